/**
 * LOCKSTEP_REQUIRE turns a skip into a failure; without it, an unavailable server is a skip with
 * the reason. A server that was found but would not start is always a failure.
 */
import { describe, expect, it } from 'vitest';
import { RequiredBackendError, ServerUnavailableError } from './errors.js';
import { isBackendRequired, requireBackend, requiredBackends, startServerOrSkip } from './require.js';

describe('requiredBackends', () => {
  it('parses comma or space separated kinds, aliases and `all`, ignoring backends that need no server', () => {
    expect([...requiredBackends({ LOCKSTEP_REQUIRE: 'redis, postgres etcd' })].sort()).toEqual([
      'etcd',
      'postgres',
      'redis',
    ]);
    expect([...requiredBackends({ LOCKSTEP_REQUIRE: 'redlock,postgresql,ZooKeeper' })].sort()).toEqual([
      'postgres',
      'redis',
      'zookeeper',
    ]);
    expect(requiredBackends({ LOCKSTEP_REQUIRE: 'all' }).size).toBe(5);
    expect([...requiredBackends({ LOCKSTEP_REQUIRE: 'memory,file,consul' })]).toEqual(['consul']);
    expect(requiredBackends({}).size).toBe(0);
    expect(isBackendRequired('etcd', { LOCKSTEP_REQUIRE: 'redis,etcd' })).toBe(true);
    expect(isBackendRequired('consul', { LOCKSTEP_REQUIRE: 'redis,etcd' })).toBe(false);
  });
});

// `sources: []` makes "nothing can provide it" certain on any machine.
describe('startServerOrSkip', () => {
  it('returns the reason to skip when the kind is not required', async () => {
    const provided = await startServerOrSkip('redis', { sources: [], env: {} });
    expect(provided.handle).toBeUndefined();
    expect(provided.skipReason).toMatch(/^no redis server available for tests:/);
  });

  it('throws RequiredBackendError when LOCKSTEP_REQUIRE lists the kind', async () => {
    const error = await startServerOrSkip('redis', { sources: [], env: { LOCKSTEP_REQUIRE: 'redis' } }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(RequiredBackendError);
    expect((error as RequiredBackendError).message).toMatch(/LOCKSTEP_REQUIRE lists redis/);
    expect((error as RequiredBackendError).cause).toBeInstanceOf(ServerUnavailableError);
  });

  it('always throws when the server exists but does not work (an env URL nobody answers on)', async () => {
    const env = { LOCKSTEP_TEST_REDIS_URL: 'redis://127.0.0.1:1' };
    await expect(startServerOrSkip('redis', { sources: ['env'], env })).rejects.toMatchObject({
      code: 'SERVER_START_FAILED',
    });
  });
});

describe('requireBackend', () => {
  it('reports availability without starting anything', async () => {
    expect(await requireBackend('consul', { sources: ['emulator'], env: {} })).toEqual({
      available: true,
      source: 'emulator',
    });
    const missing = await requireBackend('etcd', { sources: ['binary'], env: { PATH: '/nonexistent' } });
    expect(missing).toMatchObject({ available: false, reason: expect.stringMatching(/no etcd on PATH/) });
  });

  it('throws when the unavailable kind is required', async () => {
    await expect(
      requireBackend('etcd', {
        sources: ['binary'],
        env: { PATH: '/nonexistent', LOCKSTEP_REQUIRE: 'etcd' },
      }),
    ).rejects.toBeInstanceOf(RequiredBackendError);
  });
});
