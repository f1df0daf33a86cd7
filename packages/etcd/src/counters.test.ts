/**
 * Counters over etcd: compare-and-swap on the mod revision, coalesced by core.
 */
import { type Coordinator, CounterBoundError, connect } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { driverOf, rawClient } from './test-support/etcd.js';
import './index.js';

const etcd = useServer('etcd');
const open: Coordinator[] = [];

async function coordinator(prefix: string): Promise<Coordinator> {
  const c = await connect(etcd.url, { prefix });
  open.push(c);
  return c;
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

describe('etcd counters', () => {
  it('64 concurrent increments: exact, distinct, and coalesced into a few round trips', async () => {
    const c = await coordinator('coalesce');
    const { rpc } = driverOf(c).context;
    const counter = c.counter('n');
    await counter.get();
    const before = rpc.calls;
    const results = await Promise.all(Array.from({ length: 64 }, () => counter.increment()));
    expect(new Set(results).size).toBe(64);
    expect(Math.max(...results)).toBe(64);
    expect(await counter.get()).toBe(64);
    expect(rpc.calls - before).toBeLessThan(10);
  });

  it('a warm increment is one round trip; a lost race costs one more', async () => {
    const a = await coordinator('race');
    const b = await coordinator('race');
    const { rpc } = driverOf(a).context;
    const counter = a.counter('n');
    await counter.increment();
    let before = rpc.calls;
    expect(await counter.increment()).toBe(2);
    expect(rpc.calls - before).toBe(1);
    await b.counter('n').increment(10);
    before = rpc.calls;
    expect(await counter.increment()).toBe(13);
    expect(rpc.calls - before).toBe(2);
  });

  it('bounds are checked against the guarded value and a refused add writes nothing', async () => {
    const c = await coordinator('bounds');
    const bounded = c.counter('stock', { min: 0, max: 3 });
    const tries = await Promise.allSettled(Array.from({ length: 5 }, () => bounded.increment()));
    expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(3);
    expect(
      tries.filter((t) => t.status === 'rejected' && t.reason instanceof CounterBoundError),
    ).toHaveLength(2);
    await expect(bounded.decrement(4)).rejects.toBeInstanceOf(CounterBoundError);
    expect(await bounded.get()).toBe(3);
  });

  it('a stale remembered value never decides a bound', async () => {
    const a = await coordinator('stale');
    const b = await coordinator('stale');
    const capped = a.counter('n', { max: 10 });
    await capped.set(10);
    await expect(capped.increment()).rejects.toBeInstanceOf(CounterBoundError);
    await b.counter('n').set(0);
    expect(await capped.increment()).toBe(1);
  });

  it('compareAndSet treats a never-written counter as 0, in one round trip', async () => {
    const c = await coordinator('cas');
    const { rpc } = driverOf(c).context;
    const fresh = c.counter('fresh');
    const before = rpc.calls;
    expect(await fresh.compareAndSet(1, 2)).toBe(false);
    expect(await fresh.compareAndSet(0, 5)).toBe(true);
    expect(rpc.calls - before).toBe(2);
    expect(await fresh.compareAndSet(0, 6)).toBe(false);
    expect(await fresh.compareAndSet(5, 0)).toBe(true);
    expect(await fresh.compareAndSet(0, 7)).toBe(true);
    expect(await fresh.get()).toBe(7);
  });

  it('stores plain decimal strings, readable by any etcd client; foreign values give a typed error', async () => {
    const c = await coordinator('plain');
    const raw = rawClient(etcd.url);
    try {
      await c.counter('n').set(-42);
      expect(await raw.get('plain/counters/n').string()).toBe('-42');
      await raw.put('plain/counters/bad').value('twelve');
      await expect(c.counter('bad').get()).rejects.toThrow(/not a safe integer/);
    } finally {
      raw.close();
    }
  });
});
