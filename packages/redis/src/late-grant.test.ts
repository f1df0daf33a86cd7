/**
 * A grant whose reply arrives after its lease could have ended must never be handed out: a
 * caller that checks `handle.signal.aborted` before writing would write after the lease ended.
 */
import { BackendUnavailableError } from '@lockstep/core';
import { faultProxy } from '@lockstep/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freshPrefix, open } from './test-support/helpers.js';
import { useRedisServer } from './test-support/servers.js';

describe('a slow link (one-way latency 0.6 × ttl)', () => {
  const redis = useRedisServer();

  it('never hands out a grant whose lease is already over, and leaves nothing held', async () => {
    const proxy = await faultProxy(redis.handle.url);
    onTestFinished(() => proxy.close());
    const prefix = freshPrefix();
    const coord = await open(proxy.url, { prefix, commandTimeoutMs: 10_000 });
    proxy.latency(600);
    const name = 'slow-link';
    const sentAt = performance.now();
    const outcome = await coord
      .lock(name, { ttlMs: 1_000 })
      .acquire({ waitMs: 20_000 })
      .catch((error: unknown) => error);
    const after = performance.now() - sentAt;
    // Each grant comes back ≥ 1.2 s after its request was sent: past its 1 s lease.
    expect(outcome, `acquire resolved after ${after} ms`).toBeInstanceOf(BackendUnavailableError);
    expect((outcome as Error).message).toMatch(/given back: replies take too long for this ttlMs/);
    proxy.latency(0);
    // The late grants were given back (or expired): the lock is free for a client on a good link.
    const direct = await open(redis.handle.url, { prefix });
    const held = await direct.lock(name).tryAcquire();
    expect(held).not.toBeNull();
    await held!.release();
  }, 60_000);

  it('with time to spare, the lease is handed out live', async () => {
    const proxy = await faultProxy(redis.handle.url);
    onTestFinished(() => proxy.close());
    const coord = await open(proxy.url, { prefix: freshPrefix(), commandTimeoutMs: 10_000 });
    proxy.latency(100);
    const held = await coord.lock('slow-but-fine', { ttlMs: 2_000 }).acquire({ waitMs: 10_000 });
    expect(held.signal.aborted).toBe(false);
    await Promise.resolve();
    expect(held.signal.aborted).toBe(false);
    await held.release();
  }, 60_000);
});
