/**
 * The container path: testcontainers, used only when a container runtime answers.
 *
 * Failing over must be quick and quiet where no runtime exists (most CI boxes without Docker):
 * {@link probeContainerRuntime} first looks for any sign of a runtime (DOCKER_HOST, a known socket,
 * ~/.testcontainers.properties) without loading testcontainers at all, and only then asks
 * testcontainers to connect, under a time limit. The answer is cached for the process.
 * testcontainers is an optional peer dependency: it is loaded only when a container is wanted,
 * and its absence then is said in so many words (with the command that installs it).
 *
 * Limits: clusters from containers are limited to independent Redis instances (etcd and ZooKeeper
 * ensembles need a container network; use binaries). Container handles are not exercised on
 * machines without a runtime, such as the one this package's own suite runs on.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ServerControlError, ServerStartError } from './errors.js';
import { freePort } from './ports.js';
import { probeConsul, probeEtcd, probePostgres, probeRedis, probeZooKeeper } from './probes.js';
import { type Tracked, track, untrack } from './registry.js';
import type { ServerHandle, ServerKind } from './types.js';

/** Whether a container runtime answered, and if not, why. */
export type ContainerRuntimeProbe =
  | { readonly available: true; readonly detail: string }
  | { readonly available: false; readonly reason: string };

/** How long testcontainers may take to reach a runtime before we give up on containers. */
export const CONTAINER_PROBE_TIMEOUT_MS = 5_000;

/** Places a container runtime announces itself; none of them present means no runtime to ask. */
export function containerRuntimeHints(env: NodeJS.ProcessEnv = process.env): string[] {
  const hints: string[] = [];
  if (env.DOCKER_HOST) hints.push(`DOCKER_HOST=${env.DOCKER_HOST}`);
  const home = homedir();
  const properties = join(home, '.testcontainers.properties');
  if (existsSync(properties) && /docker\.host|tc\.host/.test(readFileSync(properties, 'utf8')))
    hints.push(properties);
  const runtimeDir = env.XDG_RUNTIME_DIR;
  const sockets = [
    '/var/run/docker.sock',
    '/run/podman/podman.sock',
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
    join(home, '.colima', 'default', 'docker.sock'),
    join(home, '.rd', 'docker.sock'),
    ...(runtimeDir ? [join(runtimeDir, 'docker.sock'), join(runtimeDir, 'podman', 'podman.sock')] : []),
  ];
  for (const socket of sockets) if (existsSync(socket)) hints.push(socket);
  return hints;
}

/** A container was wanted, and the optional peer testcontainers is not installed. */
export class TestcontainersMissingError extends Error {
  readonly code = 'TESTCONTAINERS_MISSING';

  constructor(options?: { cause?: unknown }) {
    super(
      'testcontainers is not installed: it is an optional peer dependency of @lockstep/testing, needed only for servers in containers. Install it (npm install --save-dev testcontainers), or provide the server another way (LOCKSTEP_TEST_<KIND>_URL, or its binary on PATH)',
      options,
    );
    this.name = 'TestcontainersMissingError';
  }
}

/** testcontainers, loaded on first use (its absence is a {@link TestcontainersMissingError}). */
async function loadTestcontainers(): Promise<typeof import('testcontainers')> {
  try {
    return await import('testcontainers');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    // Only testcontainers itself missing: a broken install of one of its own modules is reported as is.
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      /['"]testcontainers['"]/.test(message);
    if (missing) throw new TestcontainersMissingError({ cause: error });
    throw error;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let cachedProbe: Promise<ContainerRuntimeProbe> | undefined;

/** Asks (once per process) whether a container runtime answers. Never throws; bounded by {@link CONTAINER_PROBE_TIMEOUT_MS}. */
export function probeContainerRuntime(env: NodeJS.ProcessEnv = process.env): Promise<ContainerRuntimeProbe> {
  cachedProbe ??= (async (): Promise<ContainerRuntimeProbe> => {
    const hints = containerRuntimeHints(env);
    if (hints.length === 0) {
      return {
        available: false,
        reason:
          'no container runtime: DOCKER_HOST is unset, no Docker or Podman socket exists, no ~/.testcontainers.properties',
      };
    }
    try {
      const testcontainers = await loadTestcontainers();
      const client = await withTimeout(
        testcontainers.getContainerRuntimeClient(),
        CONTAINER_PROBE_TIMEOUT_MS,
        `container runtime (${hints.join(', ')})`,
      );
      return { available: true, detail: `${client.info.containerRuntime.host} (${hints.join(', ')})` };
    } catch (error) {
      if (error instanceof TestcontainersMissingError) return { available: false, reason: error.message };
      return { available: false, reason: `container runtime did not answer: ${(error as Error).message}` };
    }
  })();
  return cachedProbe;
}

interface ImageRecipe {
  readonly image: string;
  readonly containerPort: number;
  readonly command?: (hostPort: number) => string[];
  readonly environment?: Record<string, string>;
  readonly url: (host: string, port: number) => string;
  readonly probe: (host: string, port: number) => Promise<unknown>;
}

const IMAGES: Record<ServerKind, ImageRecipe> = {
  redis: {
    image: 'redis:7-alpine',
    containerPort: 6379,
    command: () => ['redis-server', '--save', '', '--appendonly', 'no'],
    url: (h, p) => `redis://${h}:${p}`,
    probe: probeRedis,
  },
  postgres: {
    image: 'postgres:16-alpine',
    containerPort: 5432,
    environment: { POSTGRES_HOST_AUTH_METHOD: 'trust' },
    command: () => [
      'postgres',
      '-c',
      'max_connections=300',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
    ],
    url: (h, p) => `postgres://postgres@${h}:${p}/postgres`,
    probe: (h, p) => probePostgres(`postgres://postgres@${h}:${p}/postgres`),
  },
  etcd: {
    image: 'quay.io/coreos/etcd:v3.5.17',
    containerPort: 2379,
    command: (hostPort) => [
      'etcd',
      '--listen-client-urls',
      'http://0.0.0.0:2379',
      '--advertise-client-urls',
      `http://127.0.0.1:${hostPort}`,
    ],
    url: (h, p) => `etcd://${h}:${p}`,
    probe: probeEtcd,
  },
  zookeeper: {
    image: 'zookeeper:3.8',
    containerPort: 2181,
    environment: {
      ZOO_4LW_COMMANDS_WHITELIST: 'srvr,ruok,stat,mntr',
      ZOO_TICK_TIME: '500',
      ZOO_MAX_CLIENT_CNXNS: '0',
    },
    url: (h, p) => `zookeeper://${h}:${p}`,
    probe: probeZooKeeper,
  },
  consul: {
    image: 'hashicorp/consul:1.20',
    containerPort: 8500,
    command: () => ['agent', '-dev', '-client', '0.0.0.0'],
    url: (h, p) => `consul://${h}:${p}`,
    probe: probeConsul,
  },
};

async function waitForProbe(
  kind: ServerKind,
  probe: () => Promise<unknown>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probe();
      return;
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new ServerStartError(
          kind,
          `container did not answer within ${timeoutMs} ms: ${(error as Error).message}`,
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

type StartedContainer = import('testcontainers').StartedTestContainer;

/** A server in a container. Control maps to the runtime: kill, pause/unpause, restart. */
class ContainerServer implements ServerHandle, Tracked {
  readonly source = 'container' as const;
  readonly url: string;
  readonly host: string;
  #stopping: Promise<void> | undefined;

  constructor(
    readonly kind: ServerKind,
    readonly port: number,
    private readonly container: StartedContainer,
    private readonly recipe: ImageRecipe,
    private readonly readyTimeoutMs: number,
  ) {
    this.host = container.getHost();
    this.url = recipe.url(this.host, port);
    track(this);
  }

  async #runtimeContainer() {
    const { getContainerRuntimeClient } = await loadTestcontainers();
    return (await getContainerRuntimeClient()).container.getById(this.container.getId());
  }

  #assertUsable(operation: string): void {
    if (this.#stopping)
      throw new ServerControlError(this.kind, `${operation}() on a stopped server (${this.url})`);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.container
      .stop({ timeout: 10_000 })
      .then(() => undefined)
      .finally(() => untrack(this));
    return this.#stopping;
  }

  async kill(): Promise<void> {
    this.#assertUsable('kill');
    await (await this.#runtimeContainer()).kill({ signal: 'SIGKILL' });
  }

  async pause(): Promise<void> {
    this.#assertUsable('pause');
    await (await this.#runtimeContainer()).pause();
  }

  async resume(): Promise<void> {
    this.#assertUsable('resume');
    await (await this.#runtimeContainer()).unpause();
  }

  async restart(): Promise<void> {
    this.#assertUsable('restart');
    await this.container.restart({ timeout: 10_000 });
    await waitForProbe(this.kind, () => this.recipe.probe(this.host, this.port), this.readyTimeoutMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  killNow(): void {
    // Nothing synchronous reaches a container runtime; testcontainers' reaper (Ryuk) removes
    // the container when this process's session ends.
  }
}

/** Starts one server of `kind` in a container on a fixed host port (so restart keeps the URL). */
export async function startContainerServer(
  kind: ServerKind,
  readyTimeoutMs = 120_000,
): Promise<ServerHandle> {
  const recipe = IMAGES[kind];
  const { GenericContainer } = await loadTestcontainers();
  const hostPort = await freePort();
  let definition = new GenericContainer(recipe.image).withExposedPorts({
    container: recipe.containerPort,
    host: hostPort,
  });
  if (recipe.command) definition = definition.withCommand(recipe.command(hostPort));
  if (recipe.environment) definition = definition.withEnvironment(recipe.environment);
  const container = await definition.start();
  const server = new ContainerServer(kind, hostPort, container, recipe, readyTimeoutMs);
  try {
    await waitForProbe(kind, () => recipe.probe(server.host, hostPort), readyTimeoutMs);
  } catch (error) {
    await server.stop().catch(() => {});
    throw error;
  }
  return server;
}
