/**
 * `startServer` and `startCluster`: choose a source, lay the nodes out, start them, wait until
 * every node answers a protocol request.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';
import { startContainerServer } from './containers.js';
import { envServers } from './env-server.js';
import { ServerStartError, ServerUnavailableError } from './errors.js';
import { layoutConsulAgent, layoutConsulEmulator } from './kinds/consul.js';
import { layoutEtcd } from './kinds/etcd.js';
import type { ClusterLayout, Recipe } from './kinds/layout.js';
import { layoutPostgres } from './kinds/postgres.js';
import { layoutRedis } from './kinds/redis.js';
import { layoutZooKeeper } from './kinds/zookeeper.js';
import { ManagedServer } from './managed-server.js';
import { defaultSourceProbes, type SourceChoice, type SourceProbes, selectSource } from './sources.js';
import {
  type ClusterHandle,
  type ConsulEmulatorProcessOptions,
  SERVER_KINDS,
  SERVER_SOURCES,
  type ServerHandle,
  type ServerKind,
  type StartServerOptions,
} from './types.js';

const BINARY_RECIPES: Record<ServerKind, Recipe> = {
  redis: layoutRedis,
  postgres: layoutPostgres,
  etcd: layoutEtcd,
  zookeeper: layoutZooKeeper,
  consul: layoutConsulAgent,
};

/** Largest cluster we start: enough for any quorum test, small enough for a laptop. */
const MAX_NODES = 7;
/** Fresh ports and dirs are tried this many times when another process took a port first. */
const START_ATTEMPTS = 3;

const INSTALL_HINTS: Record<ServerKind, string> = {
  redis: 'apt-get install -y redis-server',
  postgres: 'apt-get install -y postgresql',
  etcd: 'apt-get install -y etcd-server etcd-client',
  zookeeper: 'apt-get install -y zookeeper',
  consul: 'the Consul emulator ships with @lockstep/testing; a real agent needs a consul binary on PATH',
};

function validate(kind: ServerKind, nodes: number): void {
  if (!(SERVER_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidArgumentError(
      'kind',
      `unknown server kind ${JSON.stringify(kind)}; one of ${SERVER_KINDS.join(', ')}`,
    );
  }
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
    throw new InvalidArgumentError('n', `a cluster has 1 to ${MAX_NODES} nodes, got ${nodes}`);
  }
  if (nodes > 1 && (kind === 'postgres' || kind === 'consul')) {
    throw new InvalidArgumentError('n', `${kind} clusters are not provided; start single servers`);
  }
}

function unavailable(kind: ServerKind, passedOver: readonly string[]): ServerUnavailableError {
  const lines = passedOver.map((line) => `  - ${line}`);
  lines.push(
    `  fix: set LOCKSTEP_TEST_${kind.toUpperCase()}_URL, or install the server (${INSTALL_HINTS[kind]}), ` +
      'or run `lockstep-provision` (in this repo: `pnpm --filter @lockstep/testing run provision`) as root on Debian',
  );
  return new ServerUnavailableError(kind, lines.join('\n'));
}

const BIND_CONFLICT =
  /address already in use|EADDRINUSE|BindException|Address in use|could not bind|could not create listen socket/i;

/** Starts every node of a layout; on any failure stops them all (removing their dirs) and rethrows. */
async function startLayout(layout: ClusterLayout): Promise<ManagedServer[]> {
  const servers = layout.nodes.map((spec) => new ManagedServer(spec));
  const results = await Promise.allSettled(servers.map((server) => server.start()));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await Promise.allSettled(servers.map((server) => server.stop()));
    throw failure.reason;
  }
  return servers;
}

async function startLocal(
  kind: ServerKind,
  nodes: number,
  recipe: Recipe,
  programs: Readonly<Record<string, string>>,
  readyTimeoutMs: number | undefined,
  consulEmulator: ConsulEmulatorProcessOptions | undefined,
): Promise<{ url: string; servers: ServerHandle[] }> {
  for (let attempt = 1; ; attempt++) {
    let layout: ClusterLayout;
    try {
      layout = await recipe({ nodes, programs, readyTimeoutMs, consulEmulator });
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw error;
      throw new ServerStartError(kind, (error as Error).message, undefined, { cause: error });
    }
    try {
      return { url: layout.url, servers: await startLayout(layout) };
    } catch (error) {
      const retry =
        attempt < START_ATTEMPTS && error instanceof ServerStartError && BIND_CONFLICT.test(error.message);
      if (!retry) throw error;
    }
  }
}

async function startFromChoice(
  kind: ServerKind,
  nodes: number,
  choice: SourceChoice,
  options: StartServerOptions,
): Promise<{ url: string; servers: ServerHandle[] }> {
  switch (choice.source) {
    case 'env':
      return { url: choice.url, servers: await envServers(kind, choice.url, choice.variable) };
    case 'binary':
      return startLocal(
        kind,
        nodes,
        BINARY_RECIPES[kind],
        choice.programs,
        options.readyTimeoutMs,
        undefined,
      );
    case 'emulator':
      return startLocal(
        kind,
        nodes,
        layoutConsulEmulator,
        {},
        options.readyTimeoutMs,
        options.consulEmulator,
      );
    case 'container': {
      const settled = await Promise.allSettled(
        Array.from({ length: nodes }, () => startContainerServer(kind, options.readyTimeoutMs)),
      );
      const servers = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) {
        await Promise.allSettled(servers.map((s) => s.stop()));
        throw failure.reason;
      }
      const url =
        nodes === 1 ? servers[0]!.url : `redlock://${servers.map((s) => `${s.host}:${s.port}`).join(',')}`;
      return { url, servers };
    }
  }
}

/** Shared by startServer, startCluster and the tests that inject probes. */
export async function provision(
  kind: ServerKind,
  nodes: number,
  options: StartServerOptions = {},
  probes: SourceProbes = defaultSourceProbes(options.env),
): Promise<{ url: string; servers: ServerHandle[] }> {
  validate(kind, nodes);
  const { choice, passedOver } = await selectSource(kind, nodes, options.sources ?? SERVER_SOURCES, probes);
  if (choice === undefined) throw unavailable(kind, passedOver);
  return startFromChoice(kind, nodes, choice, options);
}

/**
 * Starts one server of `kind` and resolves once it answers a real protocol request on `url`.
 *
 * Sources, first usable wins: `LOCKSTEP_TEST_<KIND>_URL` → a local binary on a free loopback port
 * in its own temp dir → a testcontainers container when a runtime answers (probe bounded to 5 s) →
 * for Consul, the Consul HTTP API emulator. URLs: `redis://127.0.0.1:P`,
 * `postgres://postgres@127.0.0.1:P/postgres`, `etcd://127.0.0.1:P`, `zookeeper://127.0.0.1:P`,
 * `consul://127.0.0.1:P`.
 *
 * @throws ServerUnavailableError when no source can provide it (the message lists why, per source).
 * @throws ServerStartError when the chosen source failed to start (a failure, not a reason to skip).
 * @throws InvalidArgumentError for an unknown kind.
 */
export async function startServer(kind: ServerKind, options: StartServerOptions = {}): Promise<ServerHandle> {
  const { servers } = await provision(kind, 1, options);
  return servers[0]!;
}

/**
 * Starts `n` nodes of `kind` together: a real etcd cluster, a real ZooKeeper ensemble, or `n`
 * independent Redis instances (what Redlock wants; URL `redlock://h:p1,h:p2,...`). Resolves when
 * every node answers (for etcd and ZooKeeper that means a leader was elected). Each node handle can
 * be killed, paused and restarted while the others run. Env source: `LOCKSTEP_TEST_<KIND>_CLUSTER_URL`.
 *
 * @throws InvalidArgumentError for n outside 1–7, or n > 1 for postgres and consul (not provided).
 * @throws ServerUnavailableError, ServerStartError as {@link startServer}.
 */
export async function startCluster(
  kind: ServerKind,
  n: number,
  options: StartServerOptions = {},
): Promise<ClusterHandle> {
  const { url, servers } = await provision(kind, n, options);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    // The data is discarded anyway, and a graceful stop of a whole etcd cluster at once costs
    // seconds (the leader tries to hand leadership to peers that are leaving too): kill, then clean up.
    stopping ??= Promise.allSettled(servers.map((server) => server.kill()))
      .then(() => Promise.allSettled(servers.map((server) => server.stop())))
      .then(() => undefined);
    return stopping;
  };
  return { kind, url, nodes: servers, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Starts the Consul HTTP API emulator of this package as a child process (so kill, pause and
 * restart act on a real process), whatever else is available. Its handle's `source` is
 * `emulator`; its state lives in memory and does not survive kill or restart.
 */
export function startConsulEmulatorProcess(
  options: ConsulEmulatorProcessOptions & Pick<StartServerOptions, 'readyTimeoutMs'> = {},
): Promise<ServerHandle> {
  const { readyTimeoutMs, ...consulEmulator } = options;
  return startServer('consul', { sources: ['emulator'], readyTimeoutMs, consulEmulator });
}
