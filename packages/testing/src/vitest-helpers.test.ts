/** useServer/useCluster: started before the tests, stopped after, skipped with the reason when unavailable. */
import { afterAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from './process-group.js';
import { redisCommand } from './test-support/clients.js';
import { useCluster, useServer } from './vitest.js';

describe('useServer', () => {
  const redis = useServer('redis', { sources: ['binary'] });
  let pid: number | undefined;

  it('provides a running server to every test of the block', async () => {
    expect(redis.skipReason).toBeUndefined();
    expect(await redisCommand(redis.url, ['PING'])).toBe('+PONG');
    pid = redis.handle.pid;
  });

  it('shares the same server across the block', () => {
    expect(redis.handle.pid).toBe(pid);
  });

  afterAll(() => {
    // Runs before useServer's own afterAll (hooks run in reverse order), so the server still lives.
    expect(isProcessAlive(pid!)).toBe(true);
  });
});

describe('useCluster', () => {
  const cluster = useCluster('redis', 2, { sources: ['binary'] });
  it('provides every node', async () => {
    expect(cluster.url).toMatch(/^redlock:\/\//);
    for (const node of cluster.handle.nodes) expect(await redisCommand(node.url, ['PING'])).toBe('+PONG');
  });
});

describe('useServer when nothing can provide the server', () => {
  // No sources at all, and an env without LOCKSTEP_REQUIRE: certain to be unavailable, and a skip.
  const none = useServer('etcd', { sources: [], env: {} });

  it('is skipped with the reason (this body would fail if it ran)', () => {
    expect.fail(`should have been skipped: ${none.skipReason}`);
  });

  afterAll(() => {
    expect(none.skipReason).toMatch(/^no etcd server available for tests:/);
    expect(() => none.url).toThrow(/not available here/);
  });
});
