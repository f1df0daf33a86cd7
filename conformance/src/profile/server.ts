/**
 * Targets over servers, shared by the vitest helper and the backends' profiles: a `--url` if
 * given, else a server (or cluster) from @lockstep/testing, wrapped as a
 * {@link ConformanceTarget}.
 * @module
 */
import { type BackendName, connect } from '@lockstep/core';
import type { ClusterHandle, ServerHandle, ServerKind, StartServerOptions } from '@lockstep/testing';
import { type ConformanceTarget, withQueryParam } from '../target.js';
import type { ProvisionedBackend, ProvisionOptions } from './types.js';

/** What a target over a started server or cluster needs besides the server itself. */
export interface TargetShape {
  readonly name: BackendName;
  readonly adapterModule: string;
  /** Lease length for the suite's lease tests (see `ConformanceTarget.ttlMs`). */
  readonly ttlMs?: number;
  /** Connect options added to the URL as query parameters (child processes see them too). */
  readonly query?: Readonly<Record<string, string>>;
}

/** Options of {@link provisionServerTarget}. */
export interface ServerTargetOptions extends ProvisionOptions, TargetShape {
  /** The server kind @lockstep/testing starts. */
  readonly kind: ServerKind;
  /** More than 1 starts a cluster (`startCluster`); the URL then names every node. */
  readonly nodes?: number;
  /** Passed to `startServer` / `startCluster`. */
  readonly start?: StartServerOptions;
}

/**
 * The URL `name` resolves to from the caller's module (pass its `import.meta.resolve`), for
 * `adapterModule`: child processes then import the very module this process loaded, whatever
 * their working directory and whether or not the suite's own package can see the adapter.
 * The bare name where the runtime has no `import.meta.resolve` (a CommonJS build).
 */
export function adapterEntry(name: string, resolve: ((specifier: string) => string) | undefined): string {
  if (typeof resolve !== 'function') return name;
  try {
    return resolve(name);
  } catch {
    return name;
  }
}

/** `url` with every entry of `query` added as a query parameter. */
export function withQuery(url: string, query: TargetShape['query']): string {
  return Object.entries(query ?? {}).reduce((u, [key, value]) => withQueryParam(u, key, value), url);
}

function targetOver(url: string, source: ConformanceTarget['source'], shape: TargetShape): ConformanceTarget {
  const withOptions = withQuery(url, shape.query);
  return {
    name: shape.name,
    source,
    url: withOptions,
    adapterModule: shape.adapterModule,
    ttlMs: shape.ttlMs,
    connect: (override) => connect(override ?? withOptions),
  };
}

/** The target for a server given by URL (source `env`: not ours, so no process control). */
export function urlTarget(serverUrl: string, shape: TargetShape): ConformanceTarget {
  return targetOver(serverUrl, 'env', shape);
}

/**
 * The target for one running server. Servers we started come with process control
 * (kill, restart, pause, resume); one given by URL (`env`) does not.
 */
export function serverTarget(server: ServerHandle, shape: TargetShape): ConformanceTarget {
  const target = targetOver(server.url, server.source, shape);
  if (server.source === 'env') return target;
  return {
    ...target,
    server: {
      kill: () => server.kill(),
      restart: () => server.restart(),
      pause: () => server.pause(),
      resume: () => server.resume(),
    },
  };
}

/** The target for a running cluster (its URL names every node; no whole-cluster process control). */
export function clusterTarget(cluster: ClusterHandle, shape: TargetShape): ConformanceTarget {
  return targetOver(cluster.url, cluster.nodes[0]?.source ?? 'binary', shape);
}

/**
 * Provides a running server and the target for it, with the run's prefix in the URL. With
 * `url` set, uses that server as is (source `env`, no process control). Otherwise starts one
 * through @lockstep/testing, whose errors (no binary, no container runtime) propagate so
 * compare can report the reason.
 */
export async function provisionServerTarget(options: ServerTargetOptions): Promise<ProvisionedBackend> {
  await import(options.adapterModule);
  const shape: TargetShape = { ...options, query: { ...options.query, prefix: options.prefix } };
  if (options.url !== undefined) {
    const target = urlTarget(options.url, shape);
    options.log(`${options.name}: using ${target.url} from --url`);
    return { target, stop: async () => {} };
  }

  const testing = await import('@lockstep/testing');
  const nodes = options.nodes ?? 1;
  options.log(
    `${options.name}: starting ${nodes === 1 ? `a ${options.kind} server` : `${nodes} ${options.kind} nodes`}`,
  );
  if (nodes === 1) {
    const server = await testing.startServer(options.kind, options.start);
    options.log(`${options.name}: ${server.source} server at ${server.url}`);
    return { target: serverTarget(server, shape), stop: () => server.stop() };
  }
  const cluster = await testing.startCluster(options.kind, nodes, options.start);
  const target = clusterTarget(cluster, shape);
  options.log(`${options.name}: ${target.source} cluster at ${cluster.url}`);
  return { target, stop: () => cluster.stop() };
}
