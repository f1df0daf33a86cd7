/** consul:// counters against the server from @lockstep/testing (the emulator here; titles say so). */
import { CounterBoundError } from '@lockstep/core';
import { resourceRef } from '@lockstep/core/driver';
import { describe, expect, it } from 'vitest';
import { consulCoordinator } from './index.js';
import { counterKey } from './keys.js';
import { freshPrefix, open, track } from './test-support/helpers.js';
import { countingFetch, RawConsul } from './test-support/raw.js';
import { MIN_TTL_MS, SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';

const consul = useConsul();
const raw = () => new RawConsul(consul().httpUrl);

describe.skipIf(SKIP_REASON !== undefined)(`consul:// counters (${SERVER_LABEL})`, () => {
  it(`keeps the decimal value at <prefix>/counter/<name>, created with cas=0 (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const c = coord.counter('hits/today');
    expect(await c.get()).toBe(0);
    expect(await c.increment(5)).toBe(5);
    const key = counterKey(resourceRef(prefix, 'hits/today'));
    expect(key).toBe(`${prefix}/counter/hits,2Ftoday`);
    expect((await raw().get(key))?.Value).toBe('5');
    expect(await coord.lock('hits/today', { ttlMs: MIN_TTL_MS }).tryAcquire()).not.toBeNull(); // no collision
  });

  it(`costs one request per uncontended increment after the first (the CAS answer carries the new index) (${SERVER_LABEL})`, async () => {
    const counting = countingFetch();
    const coord = track(
      consulCoordinator({ url: consul().httpUrl, prefix: freshPrefix(), fetch: counting.fetch }),
    );
    const c = coord.counter('seq');
    await c.increment();
    counting.reset();
    for (let i = 2; i <= 6; i++) expect(await c.increment()).toBe(i);
    expect(counting.calls.map((x) => `${x.method} ${x.path}`)).toEqual(Array(5).fill('PUT /v1/txn'));
  });

  it(`stays exact when other clients write in between (stale remembered index → CAS refused → re-read) (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    for (let i = 0; i < 10; i++) {
      await a.counter('shared').increment();
      await b.counter('shared').increment(2);
    }
    await raw().put(counterKey(resourceRef(prefix, 'shared')), '100'); // a plain write by someone else
    expect(await a.counter('shared').increment()).toBe(101);
    expect(await b.counter('shared').decrement(1)).toBe(100);
  });

  it(`coalesces 64 concurrent increments of one coordinator into a few CAS requests, each result distinct (${SERVER_LABEL})`, async () => {
    const counting = countingFetch();
    const coord = track(
      consulCoordinator({ url: consul().httpUrl, prefix: freshPrefix(), fetch: counting.fetch }),
    );
    const c = coord.counter('burst');
    const results = await Promise.all(Array.from({ length: 64 }, () => c.increment()));
    expect(new Set(results).size).toBe(64);
    expect(Math.max(...results)).toBe(64);
    expect(counting.count('PUT', '/v1/txn')).toBeLessThanOrEqual(4);
  });

  it(`checks bounds against the value the CAS guards, and a violating add writes nothing (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const stockA = a.counter('stock', { min: 0, max: 10 });
    await stockA.set(3);
    // b's view is remembered from its own write; a changes the value behind its back.
    const stockB = b.counter('stock', { min: 0, max: 10 });
    expect(await stockB.decrement(1)).toBe(2);
    expect(await stockA.decrement(2)).toBe(0);
    await expect(stockB.decrement(1)).rejects.toBeInstanceOf(CounterBoundError);
    expect(await stockB.get()).toBe(0);
    await stockA.set(9);
    // b remembers 0: the bound must be judged on the server's 9, not on the remembered 0.
    await expect(stockB.increment(2)).rejects.toMatchObject({ bound: 'max', limit: 10, attempted: 11 });
    expect(await stockB.increment(1)).toBe(10);
  });

  it(`compareAndSet succeeds only on the expected value, absent counting as 0 (${SERVER_LABEL})`, async () => {
    const coord = await open(consul().url, { prefix: freshPrefix() });
    const c = coord.counter('cas');
    expect(await c.compareAndSet(1, 5)).toBe(false);
    expect(await c.compareAndSet(0, 5)).toBe(true);
    expect(await c.compareAndSet(0, 6)).toBe(false);
    expect(await c.compareAndSet(5, -3)).toBe(true);
    expect(await c.get()).toBe(-3);
  });

  it(`refuses a counter key holding something else with a typed error (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    await raw().put(counterKey(resourceRef(prefix, 'junk')), 'not a number');
    const coord = await open(consul().url, { prefix });
    await expect(coord.counter('junk').increment()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });
});
