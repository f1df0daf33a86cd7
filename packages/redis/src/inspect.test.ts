/**
 * Inspection on redis://: a lock's holder (owner, token, lease left) through
 * `coordinator.inspect`, and the holders and waiters of a queued lease (semaphore permits,
 * read-write grants) through the drivers, all read from the server in one script.
 */
import { randomBytes } from 'node:crypto';
import { type AcquireRequest, encodeName, type SemaphoreRef } from '@lockstep/core/driver';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KeyBatch } from './batch.js';
import { LossMonitor } from './loss-monitor.js';
import { ReleaseFeed } from './release-feed.js';
import { singleInstanceSemaphores } from './semaphores.js';
import { eventually, freshPrefix, open, rawClient } from './test-support/helpers.js';
import { useRedisServer } from './test-support/servers.js';

const redis = useRedisServer();
const url = () => redis.handle.url;

/** The semaphore driver over its own connections, closed when the test ends. */
function semaphoreDriver() {
  const client = new Redis(url());
  const subscriber = client.duplicate();
  const batch = new KeyBatch(client);
  const feed = new ReleaseFeed([subscriber]);
  const monitor = new LossMonitor([batch]);
  onTestFinished(() => {
    feed.close();
    monitor.close();
    client.disconnect();
  });
  return singleInstanceSemaphores(batch, feed, monitor);
}

describe('redis:// inspect', () => {
  it("tells a lock's holder with its token and lease left, and nobody once it is released", async () => {
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix });
    const raw = rawClient(url());
    const held = await coord.lock('jobs/x', { ttlMs: 5_000 }).acquire();
    const seen = await coord.inspect('jobs/x');
    expect(seen.holders).toHaveLength(1);
    const [holder] = seen.holders;
    expect(holder!.owner).toBe(await raw.get(`${prefix}/lock/jobs%2Fx`));
    expect(holder!.fencingToken).toBe(held.fencingToken);
    expect(holder!.leftMs).toBeGreaterThan(3_000);
    expect(holder!.leftMs).toBeLessThanOrEqual(5_000);
    // Waiters are not queued on redis:// (only their coordinators register): not counted.
    expect(seen.waiting).toBeUndefined();
    await held.release();
    expect((await coord.inspect('jobs/x')).holders).toEqual([]);
  });

  it("tells a native key's holder without a token (another library's holder has none)", async () => {
    const coord = await open(url(), { prefix: freshPrefix() });
    const raw = rawClient(url());
    const key = `native:${randomBytes(4).toString('hex')}`;
    await raw.set(key, 'someone-else', 'PX', 10_000);
    const seen = await coord.inspect('n', { native: key });
    expect(seen.holders).toHaveLength(1);
    expect(seen.holders[0]).toMatchObject({ owner: 'someone-else' });
    expect(seen.holders[0]!.fencingToken).toBeUndefined();
  });

  it('tells the live permits of a semaphore with their tokens, and how many wait', async () => {
    const driver = semaphoreDriver();
    const prefix = freshPrefix();
    const ref: SemaphoreRef = {
      name: 'pool',
      prefix,
      segment: encodeName('pool'),
      prefixSegment: encodeName(prefix),
      permits: 2,
    };
    const request = (ttlMs: number): AcquireRequest<SemaphoreRef> => ({
      lock: ref,
      ttlMs,
      ownerId: randomBytes(16).toString('hex'),
    });
    const first = request(5_000);
    const second = request(300);
    const grants = [await driver.tryAcquire(first), await driver.tryAcquire(second)];
    const stop = new AbortController();
    const waiter = driver.acquire!(request(5_000), stop.signal);
    waiter.catch(() => {});
    await eventually(async () => expect((await driver.inspect!(ref)).waiting).toBe(1));
    const seen = await driver.inspect!(ref);
    const byOwner = new Map(seen.holders.map((h) => [h.owner, h]));
    expect(byOwner.get(first.ownerId)?.fencingToken).toBe(grants[0]!.fencingToken);
    expect(byOwner.get(second.ownerId)?.fencingToken).toBe(grants[1]!.fencingToken);
    expect(byOwner.get(first.ownerId)!.leftMs).toBeGreaterThan(3_000);
    // The short lease lapses: it is no longer told, and the waiter takes its place.
    const granted = await waiter;
    const after = await driver.inspect!(ref);
    expect(after.holders.map((h) => h.owner)).not.toContain(second.ownerId);
    expect(after.holders.map((h) => h.fencingToken)).toContain(granted.fencingToken);
    expect(after.waiting).toBe(0);
    await granted.release();
    await grants[0]!.release();
    expect(await driver.inspect!(ref)).toEqual({ holders: [], waiting: 0 });
  });
});
