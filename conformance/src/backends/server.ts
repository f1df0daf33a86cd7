/**
 * Provisioning for server backends, shared by their profiles: a `--url` if given, else a
 * server (or cluster) from @lockstep/testing, wrapped as a {@link ConformanceTarget}.
 * @module
 */
import { type BackendName, type Coordinator, connect } from '@lockstep/core';
import type { ServerKind, StartServerOptions } from '@lockstep/testing';
import { type ConformanceTarget, withQueryParam } from '../target.js';
import type { ProvisionedBackend, ProvisionOptions } from './profile.js';

/** Options of {@link provisionServerTarget}. */
export interface ServerTargetOptions extends ProvisionOptions {
  readonly name: BackendName;
  /** The server kind @lockstep/testing starts. */
  readonly kind: ServerKind;
  /** More than 1 starts a cluster (`startCluster`); the URL then names every node. */
  readonly nodes?: number;
  readonly adapterModule: string;
  /** Lease length for the suite's lease tests (see `ConformanceTarget.ttlMs`). */
  readonly ttlMs?: number;
  /** Connect options added to the URL as query parameters (child processes see them too). */
  readonly query?: Readonly<Record<string, string>>;
  /** Passed to `startServer` / `startCluster`. */
  readonly start?: StartServerOptions;
}

/**
 * Provides a running server and the target for it. With `url` set, uses that server as is
 * (source `env`, no process control). Otherwise starts one through @lockstep/testing, whose
 * errors (no binary, no container runtime) propagate so compare can report the reason.
 */
export async function provisionServerTarget(options: ServerTargetOptions): Promise<ProvisionedBackend> {
  await import(options.adapterModule);
  const withOptions = (url: string) =>
    Object.entries(options.query ?? {}).reduce((u, [key, value]) => withQueryParam(u, key, value), url);
  const connectTo = (url: string): Promise<Coordinator> => connect(url);

  if (options.url !== undefined) {
    const url = withOptions(options.url);
    options.log(`${options.name}: using ${url} from --url`);
    const target: ConformanceTarget = {
      name: options.name,
      source: 'env',
      url,
      adapterModule: options.adapterModule,
      ttlMs: options.ttlMs,
      connect: (override) => connectTo(override ?? url),
    };
    return { target, stop: async () => {} };
  }

  const testing = await import('@lockstep/testing');
  const nodes = options.nodes ?? 1;
  options.log(
    `${options.name}: starting ${nodes === 1 ? `a ${options.kind} server` : `${nodes} ${options.kind} nodes`}`,
  );
  if (nodes === 1) {
    const server = await testing.startServer(options.kind, options.start);
    const url = withOptions(server.url);
    options.log(`${options.name}: ${server.source} server at ${server.url}`);
    const target: ConformanceTarget = {
      name: options.name,
      source: server.source,
      url,
      adapterModule: options.adapterModule,
      ttlMs: options.ttlMs,
      connect: (override) => connectTo(override ?? url),
      ...(server.source === 'env'
        ? {}
        : {
            server: {
              kill: () => server.kill(),
              restart: () => server.restart(),
              pause: () => server.pause(),
              resume: () => server.resume(),
            },
          }),
    };
    return { target, stop: () => server.stop() };
  }
  const cluster = await testing.startCluster(options.kind, nodes, options.start);
  const url = withOptions(cluster.url);
  const source = cluster.nodes[0]?.source ?? 'binary';
  options.log(`${options.name}: ${source} cluster at ${cluster.url}`);
  const target: ConformanceTarget = {
    name: options.name,
    source,
    url,
    adapterModule: options.adapterModule,
    ttlMs: options.ttlMs,
    connect: (override) => connectTo(override ?? url),
  };
  return { target, stop: () => cluster.stop() };
}
