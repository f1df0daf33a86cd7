import { type Coordinator, connect, LockLostError, LockTimeoutError } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import type { EtcdDriver } from './driver.js';
import { etcdCoordinator, lockOwnership } from './index.js';
import { driverOf } from './test-support/driver.js';

const etcd = useServer('etcd');
const open: Coordinator[] = [];
const clients: Etcd3[] = [];

async function coordinator(prefix = 'smoke'): Promise<Coordinator> {
  const c = await connect(etcd.url, { prefix });
  open.push(c);
  return c;
}

function rawClient(): Etcd3 {
  const client = new Etcd3({ hosts: etcd.url.replace('etcd://', 'http://') });
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
  for (const c of clients.splice(0)) c.close();
});

describe('etcd locks', () => {
  it('acquires uncontended in one round trip and releases in one', async () => {
    const c = await coordinator('rt');
    const driver: EtcdDriver = driverOf(c);
    const lock = c.lock('one-rtt', { ttlMs: 5_000 });
    // Warm: the first acquire grants the shared lease.
    await (await lock.acquire()).release();
    const before = driver.context.rpc.calls;
    const held = await lock.acquire();
    expect(driver.context.rpc.calls - before).toBe(1);
    expect(await held.release()).toBe(true);
    expect(driver.context.rpc.calls - before).toBe(2);
  });

  it('queues FIFO, hands over on release and issues increasing tokens', async () => {
    const a = await coordinator('fifo');
    const b = await coordinator('fifo');
    const first = await a.lock('x').acquire();
    expect(await b.lock('x').tryAcquire()).toBeNull();
    const order: string[] = [];
    const w1 = b
      .lock('x')
      .acquire()
      .then((h) => (order.push('w1'), h));
    await new Promise((r) => setTimeout(r, 50));
    const w2 = a
      .lock('x')
      .acquire()
      .then((h) => (order.push('w2'), h));
    await new Promise((r) => setTimeout(r, 50));
    expect(await first.release()).toBe(true);
    const h1 = await w1;
    expect(h1.fencingToken).toBeGreaterThan(first.fencingToken);
    await h1.release();
    const h2 = await w2;
    expect(h2.fencingToken).toBeGreaterThan(h1.fencingToken);
    expect(order).toEqual(['w1', 'w2']);
    await h2.release();
    expect(await first.release()).toBe(false);
  });

  it('is not reentrant: a second acquire in the same coordinator waits', async () => {
    const c = await coordinator('reentrant');
    const held = await c.lock('x').acquire();
    await expect(c.lock('x').acquire({ waitMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    await held.release();
  });

  it('a timed-out or aborted waiter leaves no key behind', async () => {
    const c = await coordinator('residue');
    const raw = rawClient();
    const held = await c.lock('x').acquire();
    await expect(c.lock('x').acquire({ waitMs: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    const ac = new AbortController();
    const waiting = c.lock('x').acquire({ signal: ac.signal });
    await new Promise((r) => setTimeout(r, 100));
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    const keys = await raw.getAll().prefix('residue/locks/x/').keys();
    expect(keys).toHaveLength(1);
    await held.release();
    expect(await raw.getAll().prefix('residue/locks/x/').keys()).toHaveLength(0);
  });

  it('shares one lease among all locks with the same TTL', async () => {
    const c = await coordinator('shared');
    const raw = rawClient();
    const handles = await Promise.all(['a', 'b', 'c'].map((n) => c.lock(n, { ttlMs: 4_000 }).acquire()));
    const kvs = await raw.getAll().prefix('shared/locks/').exec();
    const leases = new Set(kvs.kvs.map((kv) => kv.lease));
    expect(kvs.kvs).toHaveLength(3);
    expect(leases.size).toBe(1);
    await Promise.all(handles.map((h) => h.release()));
  });

  it('revoking the lease aborts every handle on it; later acquires use a fresh lease', async () => {
    const c = await coordinator('revoke');
    const raw = rawClient();
    const h1 = await c.lock('a', { ttlMs: 4_000 }).acquire();
    const h2 = await c.lock('b', { ttlMs: 4_000 }).acquire();
    const [kv] = (await raw.getAll().prefix('revoke/locks/a/').exec()).kvs;
    await raw.leaseClient.leaseRevoke({ ID: kv!.lease });
    const lost = (h: typeof h1) => new Promise((r) => h.signal.addEventListener('abort', r, { once: true }));
    await Promise.all([lost(h1), lost(h2)]);
    expect(h1.signal.reason).toBeInstanceOf(LockLostError);
    expect(h2.signal.reason).toBeInstanceOf(LockLostError);
    const again = await c.lock('a', { ttlMs: 4_000 }).acquire({ waitMs: 5_000 });
    const [kv2] = (await raw.getAll().prefix('revoke/locks/a/').exec()).kvs;
    expect(kv2!.lease).not.toBe(kv!.lease);
    expect(again.fencingToken).toBeGreaterThan(h1.fencingToken);
    await again.release();
  });

  it('a waiter whose lease is revoked fails at once instead of waiting on', async () => {
    const holder = await coordinator('waiter-lease');
    const waiter = await coordinator('waiter-lease');
    const raw = rawClient();
    const held = await holder.lock('x', { ttlMs: 4_000 }).acquire();
    const waiting = waiter.lock('x', { ttlMs: 5_000 }).acquire();
    let waiterKey: { lease: string } | undefined;
    for (let i = 0; i < 50 && !waiterKey; i++) {
      const { kvs } = await raw.getAll().prefix('waiter-lease/locks/x/').exec();
      waiterKey = kvs.find((kv) => BigInt(kv.create_revision) > held.fencingToken);
      if (!waiterKey) await new Promise((r) => setTimeout(r, 20));
    }
    await raw.leaseClient.leaseRevoke({ ID: waiterKey!.lease });
    const t0 = performance.now();
    await expect(waiting).rejects.toThrow(/lease of this waiter ended/);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(held.signal.aborted).toBe(false);
    await held.release();
  });

  it('lockOwnership guards a write in the user transaction', async () => {
    const raw = rawClient();
    const c = etcdCoordinator(raw, { prefix: 'own' });
    open.push(c);
    const held = await c.lock('x').acquire();
    const { key, createRevision } = lockOwnership(c, held);
    expect(createRevision).toBe(held.fencingToken);
    const ok = await raw
      .if(key, 'Create', '==', createRevision.toString())
      .then(raw.put('own-data').value('1'))
      .commit();
    expect(ok.succeeded).toBe(true);
    await held.release();
    expect(() => lockOwnership(c, held)).toThrow(LockLostError);
    const stale = await raw
      .if(key, 'Create', '==', createRevision.toString())
      .then(raw.put('own-data').value('2'))
      .commit();
    expect(stale.succeeded).toBe(false);
    expect(await raw.get('own-data').string()).toBe('1');
  });
});

describe('etcd counters', () => {
  it('coalesced increments stay exact; bounds write nothing; CAS treats absent as 0', async () => {
    const c = await coordinator('counters');
    const counter = c.counter('n');
    const results = await Promise.all(Array.from({ length: 64 }, () => counter.increment()));
    expect(new Set(results).size).toBe(64);
    expect(await counter.get()).toBe(64);
    const bounded = c.counter('stock', { min: 0, max: 3 });
    const tries = await Promise.allSettled(Array.from({ length: 5 }, () => bounded.increment()));
    expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(3);
    expect(await bounded.get()).toBe(3);
    const fresh = c.counter('fresh');
    expect(await fresh.compareAndSet(1, 2)).toBe(false);
    expect(await fresh.compareAndSet(0, 5)).toBe(true);
    expect(await fresh.compareAndSet(0, 6)).toBe(false);
    expect(await fresh.compareAndSet(5, 0)).toBe(true);
    expect(await fresh.compareAndSet(0, 7)).toBe(true);
    expect(await fresh.get()).toBe(7);
  });

  it('a stale remembered value never decides a bound', async () => {
    const a = await coordinator('stale');
    const b = await coordinator('stale');
    const ca = a.counter('n', { max: 10 });
    await ca.set(10);
    await expect(ca.increment()).rejects.toThrow();
    await b.counter('n').set(0);
    expect(await ca.increment()).toBe(1);
  });
});
