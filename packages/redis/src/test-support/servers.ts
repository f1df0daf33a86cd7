/**
 * Real redis-servers for this package's tests, from `@lockstep/testing`: one per describe
 * block (or a cluster of independent instances for Redlock), stopped afterwards even when
 * tests fail. When no source can provide a server every test is skipped with the reason
 * (or fails, when `LOCKSTEP_REQUIRE` lists redis).
 */
import {
  type ClusterHandle,
  type Provided,
  type ServerHandle,
  startClusterOrSkip,
  startServerOrSkip,
} from '@lockstep/testing';
import { afterAll, beforeAll, beforeEach, type TestContext } from 'vitest';

/** A started server (or cluster), or the reason the tests are skipped. */
export interface Fixture<T> {
  readonly handle: T;
}

function fixture<T extends { stop(): Promise<void> }>(start: () => Promise<Provided<T>>): Fixture<T> {
  let provided: Provided<T> | undefined;
  beforeAll(async () => {
    provided = await start();
  }, 120_000);
  afterAll(async () => {
    await provided?.handle?.stop();
  }, 120_000);
  beforeEach((context) => {
    if (provided?.skipReason !== undefined) context.skip(provided.skipReason);
  });
  return {
    get handle(): T {
      if (!provided?.handle)
        throw new Error(`no redis server: ${provided?.skipReason ?? 'beforeAll has not run'}`);
      return provided.handle;
    },
  };
}

/** One redis-server for the enclosing block. */
export const useRedisServer = (): Fixture<ServerHandle> => fixture(() => startServerOrSkip('redis'));

/** `n` independent redis-servers for the enclosing block (`handle.url` is `redlock://…`). */
export const useRedisCluster = (n: number): Fixture<ClusterHandle> =>
  fixture(() => startClusterOrSkip('redis', n));

/** Skips the test when the server's process is not ours to kill, pause or restart. */
export function requireProcessControl(context: TestContext, ...servers: ServerHandle[]): void {
  if (servers.some((s) => s.source === 'env')) {
    context.skip(
      'needs to kill, pause or restart the server process; a LOCKSTEP_TEST_REDIS_URL server is not ours',
    );
  }
}
