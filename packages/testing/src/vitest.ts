/**
 * Vitest helpers (`@lockstep/testing/vitest`): a server per test file, started in `beforeAll`,
 * stopped in `afterAll` (also when tests fail), and every test skipped with the reason when no
 * source can provide it — or the file failed, when `LOCKSTEP_REQUIRE` lists the kind.
 *
 * ```ts
 * const redis = useServer('redis');
 * it('locks', async () => { const coord = await connect(redis.url); ... });
 * ```
 *
 * Share one server across a file when tests do not disturb it; use {@link useCluster} (or
 * `startCluster` inside the one test that needs it) only where a cluster matters.
 * @module
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type Provided, startClusterOrSkip, startServerOrSkip } from './require.js';
import type { ClusterHandle, ServerHandle, ServerKind, StartServerOptions } from './types.js';

/** What a test file holds on to. Reading `handle` or `url` before `beforeAll` ran, or when skipped, throws. */
export interface Fixture<T> {
  /** The started server (or cluster). */
  readonly handle: T;
  /** Its URL. */
  readonly url: string;
  /** Why every test of this file is skipped, when nothing could provide the server. */
  readonly skipReason: string | undefined;
}

function fixture<T extends { url: string }>(
  describeWhat: string,
  start: () => Promise<Provided<T>>,
  stop: (handle: T) => Promise<void>,
  hookTimeoutMs: number,
): Fixture<T> {
  let provided: Provided<T> | undefined;
  beforeAll(async () => {
    provided = await start();
  }, hookTimeoutMs);
  afterAll(async () => {
    if (provided?.handle) await stop(provided.handle);
  }, hookTimeoutMs);
  beforeEach((context) => {
    if (provided?.skipReason !== undefined) context.skip(provided.skipReason);
  });
  const handle = (): T => {
    if (provided?.handle === undefined) {
      throw new Error(
        `${describeWhat} is not available here: ${provided?.skipReason ?? 'beforeAll has not run yet'}`,
      );
    }
    return provided.handle;
  };
  return {
    get handle() {
      return handle();
    },
    get url() {
      return handle().url;
    },
    get skipReason() {
      return provided?.skipReason;
    },
  };
}

/** One server of `kind` for the enclosing describe block (or file). */
export function useServer(kind: ServerKind, options: StartServerOptions = {}): Fixture<ServerHandle> {
  return fixture(
    `a ${kind} server`,
    () => startServerOrSkip(kind, options),
    (h) => h.stop(),
    120_000,
  );
}

/** An `n`-node cluster of `kind` for the enclosing describe block (or file). */
export function useCluster(
  kind: ServerKind,
  n: number,
  options: StartServerOptions = {},
): Fixture<ClusterHandle> {
  return fixture(
    `a ${n}-node ${kind} cluster`,
    () => startClusterOrSkip(kind, n, options),
    (h) => h.stop(),
    180_000,
  );
}
