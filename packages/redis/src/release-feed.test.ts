import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { LockKeys } from './keys.js';
import { ReleaseFeed } from './release-feed.js';

/** A stand-in subscriber connection: records SUBSCRIBE calls, fails the first `failures` of them. */
class FakeSubscriber extends EventEmitter {
  readonly options = { db: 0 };
  readonly subscribed: string[][] = [];
  constructor(private failures = 0) {
    super();
  }
  async subscribe(...channels: string[]): Promise<number> {
    this.subscribed.push(channels);
    if (this.failures-- > 0) throw new Error('Command timed out');
    return channels.length;
  }
  async unsubscribe(): Promise<number> {
    return 0;
  }
  disconnect(): void {}
}

const keys: LockKeys = { lock: 'p/lock/a', fence: 'p/fence/a', channel: 'p/released/a' };
const never = new AbortController().signal;

/** Waits once (subscribing), then consumes the wake-up that confirms the subscription. */
async function settle(watch: { next(maxMs: number, signal: AbortSignal): Promise<void> }): Promise<void> {
  await watch.next(1, never);
  await new Promise((r) => setImmediate(r));
  await watch.next(1, never);
}

describe('ReleaseFeed', () => {
  it('subscribes only once a waiter actually waits, on one connection', async () => {
    const sub = new FakeSubscriber();
    const feed = new ReleaseFeed([sub as unknown as Redis]);
    const watch = feed.watch(keys);
    expect(sub.subscribed).toEqual([]);
    await watch.next(10, never);
    expect(sub.subscribed).toEqual([['p/released/a']]);
    watch.close();
    feed.close();
  });

  it('wakes the waiter on a release message', async () => {
    const sub = new FakeSubscriber();
    const feed = new ReleaseFeed([sub as unknown as Redis]);
    const watch = feed.watch(keys);
    await settle(watch);
    const start = performance.now();
    const woken = watch.next(10_000, never);
    setTimeout(() => sub.emit('message', 'p/released/a', '1'), 30);
    await woken;
    expect(performance.now() - start).toBeGreaterThanOrEqual(25);
    expect(performance.now() - start).toBeLessThan(1_000);
    watch.close();
    feed.close();
  });

  it("re-checks no later than the holder's lease end, which publishes nothing", async () => {
    const feed = new ReleaseFeed([new FakeSubscriber() as unknown as Redis]);
    const watch = feed.watch(keys);
    await settle(watch);
    feed.holderLeaseEndsIn(keys.channel, 50);
    const start = performance.now();
    await watch.next(10_000, never);
    expect(performance.now() - start).toBeGreaterThanOrEqual(45);
    expect(performance.now() - start).toBeLessThan(1_000);
    watch.close();
    feed.close();
  });

  it('subscribes again after a SUBSCRIBE failed, instead of relying on re-checks forever', async () => {
    const sub = new FakeSubscriber(1);
    const feed = new ReleaseFeed([sub as unknown as Redis]);
    const watch = feed.watch(keys);
    await watch.next(1, never);
    await new Promise((r) => setImmediate(r)); // let the failure be seen
    await watch.next(1, never);
    expect(sub.subscribed).toHaveLength(2);
    watch.close();
    feed.close();
  });

  it('listens to keyspace events of a native key too', async () => {
    const sub = new FakeSubscriber();
    const feed = new ReleaseFeed([sub as unknown as Redis]);
    const native: LockKeys = { ...keys, channel: 'lockstep-released:k', nativeKey: 'k' };
    const watch = feed.watch(native);
    await settle(watch);
    expect(sub.subscribed).toEqual([['lockstep-released:k', '__keyspace@0__:k']]);
    const start = performance.now();
    const woken = watch.next(10_000, never);
    setTimeout(() => sub.emit('message', '__keyspace@0__:k', 'del'), 30);
    await woken;
    expect(performance.now() - start).toBeGreaterThanOrEqual(25);
    expect(performance.now() - start).toBeLessThan(1_000);
    watch.close();
    feed.close();
  });

  it('wakes a semaphore waiter only by a wake-up that names it', async () => {
    const sub = new FakeSubscriber();
    const feed = new ReleaseFeed([sub as unknown as Redis]);
    const semaphore = { channel: 'p/sem-released/s' };
    const [head, behind] = [feed.watchNamed(semaphore, 'a1'), feed.watchNamed(semaphore, 'b2')];
    await Promise.all([settle(head), settle(behind)]);
    const start = performance.now();
    let behindWoke = false;
    void behind.next(300, never).then(() => {
      behindWoke = performance.now() - start < 250;
    });
    const woken = head.next(10_000, never);
    setTimeout(() => sub.emit('message', semaphore.channel, 'w a1'), 30);
    await woken;
    expect(performance.now() - start).toBeGreaterThanOrEqual(25);
    expect(performance.now() - start).toBeLessThan(1_000);
    // The waiter behind it sleeps on until its own bound.
    await new Promise((r) => setTimeout(r, 350));
    expect(behindWoke).toBe(false);
    head.close();
    behind.close();
    feed.close();
  });

  it('wakes every named waiter of a channel once its subscription is confirmed (a wake-up may have come before)', async () => {
    const sub = new FakeSubscriber();
    const feed = new ReleaseFeed([sub as unknown as Redis]);
    const semaphore = { channel: 'p/sem-released/s' };
    const watches = [feed.watchNamed(semaphore, 'a1'), feed.watchNamed(semaphore, 'b2')];
    const start = performance.now();
    // The first wait subscribes; the confirmation wakes both.
    await Promise.all(watches.map((w) => w.next(10_000, never)));
    expect(performance.now() - start).toBeLessThan(1_000);
    expect(sub.subscribed).toEqual([[semaphore.channel]]);
    for (const w of watches) w.close();
    feed.close();
  });
});
