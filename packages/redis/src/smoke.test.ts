import { connect } from '@lockstep/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import './index.js';
import { type LocalRedis, startLocalRedis } from './test-support/local-redis.js';

let server: LocalRedis;
beforeAll(async () => { server = await startLocalRedis(); });
afterAll(async () => { await server?.stop(); });

it('smoke', async () => {
  const a = await connect(server.url);
  const b = await connect(server.url);
  const h = await a.lock('x', { ttlMs: 1000 }).acquire();
  expect(h.fencingToken > 0n).toBe(true);
  expect(await b.lock('x').tryAcquire()).toBeNull();
  const t0 = performance.now();
  const waiting = b.lock('x', { ttlMs: 1000 }).acquire({ waitMs: 3000 });
  setTimeout(() => void h.release(), 50);
  const h2 = await waiting;
  console.log('handoff wait', performance.now() - t0, h.fencingToken, h2.fencingToken);
  expect(h2.fencingToken > h.fencingToken).toBe(true);
  const c = b.counter('n', { min: 0, max: 10 });
  expect(await Promise.all([c.increment(), c.increment(), c.increment()])).toEqual([1, 2, 3]);
  await expect(c.decrement(5)).rejects.toThrow();
  expect(await c.compareAndSet(3, 7)).toBe(true);
  expect(await c.get()).toBe(7);
  await a.close(); await b.close();
});
