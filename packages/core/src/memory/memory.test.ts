import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { resourceRef } from '../coordinator.js';
import {
  CounterBoundError,
  connect,
  InvalidArgumentError,
  LockLostError,
  LockstepError,
  LockTimeoutError,
  UnsupportedError,
} from '../index.js';
import { memoryDriver } from './driver.js';

describe('memory:// backend', () => {
  it('grants exclusively, hands off in FIFO order and issues increasing tokens', async () => {
    const a = await connect('memory://fifo');
    const b = await connect('memory://fifo');
    const first = await a.lock('x').acquire();
    expect(await b.lock('x').tryAcquire()).toBeNull();
    const order: string[] = [];
    const w1 = b
      .lock('x')
      .acquire()
      .then((h) => {
        order.push('w1');
        return h;
      });
    const w2 = a
      .lock('x')
      .acquire()
      .then((h) => {
        order.push('w2');
        return h;
      });
    expect(await first.release()).toBe(true);
    const h1 = await w1;
    expect(h1.fencingToken).toBeGreaterThan(first.fencingToken);
    await h1.release();
    const h2 = await w2;
    expect(h2.fencingToken).toBeGreaterThan(h1.fencingToken);
    expect(order).toEqual(['w1', 'w2']);
    await h2.release();
    expect(await first.release()).toBe(false);
    await a.close();
    await b.close();
  });

  it('times out and aborts without leaving a queue entry', async () => {
    const c = await connect('memory://timeout');
    const held = await c.lock('x').acquire();
    const t0 = performance.now();
    await expect(c.lock('x').acquire({ waitMs: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    const ac = new AbortController();
    const p = c.lock('x').acquire({ signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    await held.release();
    const again = await c.lock('x').tryAcquire();
    expect(again).not.toBeNull();
    await again!.release();
    await c.close();
  });

  it('a pure lease expires, aborts its signal and lets others in', async () => {
    const c = await connect('memory://expiry');
    const held = await c.lock('x', { ttlMs: 60, autoExtend: false }).acquire();
    const lost = new Promise((r) => held.signal.addEventListener('abort', r));
    const next = await c.lock('x').acquire({ waitMs: 2_000 });
    await lost;
    expect(held.signal.reason).toBeInstanceOf(LockLostError);
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await expect(held.extend()).rejects.toBeInstanceOf(LockLostError);
    expect(await held.release()).toBe(false);
    await next.release();
    await c.close();
  });

  it('auto-extends well past the ttl', async () => {
    const c = await connect('memory://extend');
    const held = await c.lock('x', { ttlMs: 60 }).acquire();
    await new Promise((r) => setTimeout(r, 300));
    expect(held.signal.aborted).toBe(false);
    expect(await held.isHeld()).toBe(true);
    expect(await c.lock('x').tryAcquire()).toBeNull();
    await held.release();
    await c.close();
  });

  it('counters: coalesced increments stay exact and distinct, bounds write nothing', async () => {
    const c = await connect('memory://counters');
    const counter = c.counter('n');
    const results = await Promise.all(Array.from({ length: 100 }, () => counter.increment()));
    expect(new Set(results).size).toBe(100);
    expect(await counter.get()).toBe(100);
    const bounded = c.counter('stock', { min: 0, max: 3 });
    const tries = await Promise.allSettled(Array.from({ length: 5 }, () => bounded.increment()));
    expect(tries.filter((t) => t.status === 'fulfilled').length).toBe(3);
    expect(tries.filter((t) => t.status === 'rejected' && t.reason instanceof CounterBoundError).length).toBe(
      2,
    );
    await expect(bounded.decrement(4)).rejects.toBeInstanceOf(CounterBoundError);
    expect(await bounded.get()).toBe(3);
    expect(await bounded.compareAndSet(3, 0)).toBe(true);
    expect(await bounded.compareAndSet(3, 1)).toBe(false);
    for (const bad of [Number.NaN, 1.5, 2 ** 60, '1', -1, 0]) {
      await expect(counter.increment(bad as number)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(await counter.get()).toBe(100);
    await c.close();
  });

  it('rejects bad names and unknown schemes with typed errors', async () => {
    const c = await connect('memory://names');
    expect(() => c.lock('')).toThrow(InvalidArgumentError);
    expect(() => c.lock('x'.repeat(1025))).toThrow(InvalidArgumentError);
    expect(() => c.lock('\ud800')).toThrow(InvalidArgumentError);
    await expect(connect('nope://x')).rejects.toBeInstanceOf(InvalidArgumentError);
    const e = await connect('consul://127.0.0.1:1').catch((err) => err);
    expect(e).toBeInstanceOf(LockstepError);
    expect(new UnsupportedError('x', 'y', 'z')).toBeInstanceOf(LockstepError);
    expect(new UnsupportedError('x', 'y', 'z')).not.toBeInstanceOf(LockLostError);
    await c.close();
  });
});

describe('memory driver: queue acquire', () => {
  it('leaves no listener on the stop signal when the lock is granted at once (the signal is shared)', async () => {
    const driver = memoryDriver(`listeners-${Math.random()}`);
    const stop = new AbortController();
    const request = { lock: resourceRef('p', 'x'), ttlMs: 5_000, ownerId: 'a'.repeat(32) };
    for (let i = 0; i < 3; i++) {
      const grant = await driver.locks.acquire!(request, stop.signal);
      await grant.release();
    }
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});

describe('argument errors', () => {
  it('acquire with bad options rejects (never throws synchronously) and leaves nothing behind', async () => {
    const c = await connect('memory://args');
    const lock = c.lock('x');
    let threw = false;
    let p: Promise<unknown> | undefined;
    try {
      p = lock.acquire({ waitMs: -1 });
    } catch {
      threw = true;
    }
    expect(threw).toBe(false);
    await expect(p).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(lock.acquire({ signal: 'nope' as unknown as AbortSignal })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const held = await lock.tryAcquire();
    expect(held).not.toBeNull();
    await held!.release();
    await c.close();
  });
});
