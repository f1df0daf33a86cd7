/**
 * `LOCKSTEP_REQUIRE`: the switch that turns "skip, with the reason" into "fail". CI sets it to
 * every backend (`redis,postgres,etcd,zookeeper,consul`) so that a server that cannot be
 * provisioned fails the run instead of passing it quietly.
 * @module
 */
import { RequiredBackendError, ServerUnavailableError } from './errors.js';
import { defaultSourceProbes, selectSource } from './sources.js';
import { startCluster, startServer } from './start.js';
import {
  type ClusterHandle,
  SERVER_KINDS,
  SERVER_SOURCES,
  type ServerHandle,
  type ServerKind,
  type ServerSource,
  type StartServerOptions,
} from './types.js';

/** Other spellings of the same server kind that may appear in `LOCKSTEP_REQUIRE`. */
const ALIASES: Record<string, ServerKind> = { redlock: 'redis', postgresql: 'postgres', zk: 'zookeeper' };

/**
 * The server kinds `LOCKSTEP_REQUIRE` lists (comma or space separated; `all` means every kind).
 * Names that are not server kinds (`memory`, `file`) are ignored here: they need no server.
 */
export function requiredBackends(env: NodeJS.ProcessEnv = process.env): ReadonlySet<ServerKind> {
  const required = new Set<ServerKind>();
  for (const raw of (env.LOCKSTEP_REQUIRE ?? '').split(/[\s,]+/)) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    if (name === 'all') for (const kind of SERVER_KINDS) required.add(kind);
    const kind = ALIASES[name] ?? name;
    if ((SERVER_KINDS as readonly string[]).includes(kind)) required.add(kind as ServerKind);
  }
  return required;
}

/** Whether `LOCKSTEP_REQUIRE` lists `kind`. */
export function isBackendRequired(kind: ServerKind, env: NodeJS.ProcessEnv = process.env): boolean {
  return requiredBackends(env).has(kind);
}

/** Whether a server of `kind` could be provided, without starting one. */
export type BackendAvailability =
  | { readonly available: true; readonly source: ServerSource }
  | { readonly available: false; readonly reason: string };

/**
 * Checks, without starting anything, whether some source can provide `nodes` servers of `kind`.
 * Use it to decide at collection time, e.g. `describe.skipIf(!(await requireBackend('etcd')).available)`.
 *
 * @throws RequiredBackendError when none can and `LOCKSTEP_REQUIRE` lists the kind.
 */
export async function requireBackend(
  kind: ServerKind,
  options: { nodes?: number; sources?: readonly ServerSource[]; env?: NodeJS.ProcessEnv } = {},
): Promise<BackendAvailability> {
  const env = options.env ?? process.env;
  const { choice, passedOver } = await selectSource(
    kind,
    options.nodes ?? 1,
    options.sources ?? SERVER_SOURCES,
    defaultSourceProbes(env),
  );
  if (choice !== undefined) return { available: true, source: choice.source };
  const reason = `no ${kind} server available for tests:\n${passedOver.map((l) => `  - ${l}`).join('\n')}`;
  if (isBackendRequired(kind, env)) throw new RequiredBackendError(kind, reason);
  return { available: false, reason };
}

/** A started server, or the reason there is none (then the caller skips). */
export type Provided<T> =
  | { readonly handle: T; readonly skipReason?: undefined }
  | { readonly handle?: undefined; readonly skipReason: string };

async function orSkip<T>(kind: ServerKind, env: NodeJS.ProcessEnv | undefined, start: () => Promise<T>) {
  try {
    return { handle: await start() } as Provided<T>;
  } catch (error) {
    if (!(error instanceof ServerUnavailableError)) throw error;
    if (isBackendRequired(kind, env)) throw new RequiredBackendError(kind, error.reason, { cause: error });
    return { skipReason: error.message } as Provided<T>;
  }
}

/**
 * {@link startServer}, except that "no source available" becomes a skip reason — unless
 * `LOCKSTEP_REQUIRE` lists the kind, then it throws RequiredBackendError. A server that was found
 * but failed to start always throws.
 */
export function startServerOrSkip(
  kind: ServerKind,
  options: StartServerOptions = {},
): Promise<Provided<ServerHandle>> {
  return orSkip(kind, options.env, () => startServer(kind, options));
}

/** {@link startCluster} with the skip semantics of {@link startServerOrSkip}. */
export function startClusterOrSkip(
  kind: ServerKind,
  n: number,
  options: StartServerOptions = {},
): Promise<Provided<ClusterHandle>> {
  return orSkip(kind, options.env, () => startCluster(kind, n, options));
}
