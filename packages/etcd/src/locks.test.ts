/**
 * The etcd lock recipe, against a real etcd: round trips, the queue, shared leases, loss.
 */
import { type Coordinator, connect, LockLostError, LockTimeoutError } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { type Etcd3, GRPCUnavailableError, type ITxnRequest, type Namespace } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { etcdCoordinator, lockOwnership } from './index.js';
import { tryEnqueue } from './queue.js';
import { EtcdRpc } from './rpc.js';
import { aborted, driverOf, rawClient, until } from './test-support/etcd.js';

const etcd = useServer('etcd');
const open: Coordinator[] = [];
const clients: Etcd3[] = [];

async function coordinator(prefix: string): Promise<Coordinator> {
  const c = await connect(etcd.url, { prefix });
  open.push(c);
  return c;
}

function raw(): Etcd3 {
  const client = rawClient(etcd.url);
  clients.push(client);
  return client;
}

/** Resolves once the queue of `prefix`/`name` holds `n` keys. */
async function queued(prefix: string, name: string, n: number): Promise<void> {
  const client = raw();
  await until(`${n} keys in the queue of ${name}`, async () => {
    return (await client.getAll().prefix(`${prefix}/locks/${name}/`).keys()).length === n;
  });
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
  for (const c of clients.splice(0)) c.close();
});

describe('etcd locks: round trips and the queue', () => {
  it('acquires uncontended in one round trip and releases in one', async () => {
    const c = await coordinator('rt');
    const { rpc } = driverOf(c).context;
    const lock = c.lock('one-rtt');
    // The first acquire also grants the coordinator's lease for this TTL.
    await (await lock.acquire()).release();
    const before = rpc.calls;
    const held = await lock.acquire();
    expect(rpc.calls - before).toBe(1);
    expect(await held.release()).toBe(true);
    expect(rpc.calls - before).toBe(2);
  });

  it('tryAcquire is one round trip either way', async () => {
    const c = await coordinator('try-rt');
    const { rpc } = driverOf(c).context;
    const held = await c.lock('x').acquire();
    const before = rpc.calls;
    expect(await c.lock('x').tryAcquire()).toBeNull();
    expect(rpc.calls - before).toBe(1);
    await held.release();
  });

  it('a contended acquire joins the queue in two round trips: the refused fast put, then the enqueue', async () => {
    const a = await coordinator('join-rt');
    const b = await coordinator('join-rt');
    await (await b.lock('x').acquire()).release(); // grants b's lease
    const held = await a.lock('x').acquire();
    const { rpc } = driverOf(b).context;
    const before = rpc.calls;
    const waiting = b.lock('x').acquire();
    await queued('join-rt', 'x', 2);
    expect(rpc.calls - before).toBe(2);
    await held.release();
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.release();
  });

  it('a lock found taken is joined in one round trip next time; a free queue brings the light try back', async () => {
    const a = await coordinator('adaptive');
    const b = await coordinator('adaptive');
    const lockA = a.lock('x');
    const lockB = b.lock('x'); // one Lock: what this coordinator learned of it stays with it
    await (await lockB.acquire()).release(); // grants b's lease
    const { rpc } = driverOf(b).context;
    const joinCost = async () => {
      const held = await lockA.acquire();
      const before = rpc.calls;
      const waiting = lockB.acquire();
      await queued('adaptive', 'x', 2);
      const calls = rpc.calls - before;
      await held.release();
      await (await waiting).release();
      return calls;
    };
    expect(await joinCost()).toBe(2); // the light try (refused), then the enqueue
    expect(await joinCost()).toBe(1); // found taken last time: straight to the enqueue
    const before = rpc.calls;
    await (await lockB.acquire()).release(); // the enqueue finds the queue empty…
    expect(rpc.calls - before).toBe(2); // …its put, and the release
    expect(await joinCost()).toBe(2); // …so the light try is back
  });

  it('a waiter woken by the delete of its predecessor re-checks without a linearizable read', async () => {
    const a = await coordinator('serial');
    const b = await coordinator('serial');
    const held = await a.lock('x').acquire();
    const { rpc } = driverOf(b).context;
    const rechecks: boolean[] = [];
    const txn = rpc.txn.bind(rpc);
    rpc.txn = (request, what, mode) => {
      if (what === 're-check') {
        const built = typeof request === 'function' ? request(0) : request;
        rechecks.push(built.success?.[0]?.request_range?.serializable === true);
      }
      return txn(request, what, mode);
    };
    const waiting = b.lock('x').acquire();
    await queued('serial', 'x', 2);
    const before = rechecks.length;
    await held.release();
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    // The wake-up's re-check: served from the member's own state, which includes the delete.
    expect(rechecks.slice(before)).toEqual([true]);
    expect(driverOf(b).context.waits.wakes.deleted).toBe(1);
    await next.release();
  });

  it('grants in FIFO order, with increasing tokens', async () => {
    const a = await coordinator('fifo');
    const b = await coordinator('fifo');
    const first = await a.lock('x').acquire();
    const order: string[] = [];
    const w1 = b.lock('x').acquire();
    void w1.then(() => order.push('w1'));
    await queued('fifo', 'x', 2);
    const w2 = a.lock('x').acquire();
    void w2.then(() => order.push('w2'));
    await queued('fifo', 'x', 3);
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

  it('a release wakes only the next waiter (no herd)', async () => {
    const holder = await coordinator('herd');
    const waiters: Coordinator[] = [];
    for (let i = 0; i < 4; i++) waiters.push(await coordinator('herd'));
    const held = await holder.lock('x').acquire();
    const waits = [];
    for (const [i, w] of waiters.entries()) {
      waits.push(w.lock('x').acquire());
      await queued('herd', 'x', i + 2);
    }
    const deletedWakes = () => waiters.map((w) => driverOf(w).context.waits.wakes.deleted);
    const before = deletedWakes();
    await held.release();
    const first = await waits[0]!;
    const after = deletedWakes();
    expect(after[0]! - before[0]!).toBeGreaterThanOrEqual(1);
    expect(after.slice(1)).toEqual(before.slice(1));
    await first.release();
    for (const w of waits.slice(1)) await (await w).release();
  });

  it('inspect names the holder (its token and lease left) and counts the waiters, in two round trips', async () => {
    const [holder, waiter, looker] = [
      await coordinator('look'),
      await coordinator('look'),
      await coordinator('look'),
    ];
    expect(await looker.inspect('x')).toEqual({ name: 'x', holders: [], waiting: 0 });
    const held = await holder.lock('x', { ttlMs: 5_000 }).acquire();
    // One after the other, so that the first to be granted is the first in the list.
    const waits = [waiter.lock('x').acquire()];
    await queued('look', 'x', 2);
    waits.push(waiter.lock('x').acquire());
    await queued('look', 'x', 3);
    const { rpc } = driverOf(looker).context;
    const before = rpc.calls;
    const seen = await looker.inspect('x');
    expect(rpc.calls - before).toBe(2);
    expect(seen.waiting).toBe(2);
    expect(seen.holders).toHaveLength(1);
    expect(seen.holders[0]!.fencingToken).toBe(held.fencingToken);
    expect(seen.holders[0]!.leftMs).toBeGreaterThan(0);
    expect(seen.holders[0]!.leftMs).toBeLessThanOrEqual(5_000);
    await held.release();
    for (const w of waits) await (await w).release();
  });

  it('is not reentrant: a second acquire through the same coordinator queues', async () => {
    const c = await coordinator('reentrant');
    const held = await c.lock('x').acquire();
    await expect(c.lock('x').acquire({ waitMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    const second = c.lock('x').acquire();
    await queued('reentrant', 'x', 2);
    await held.release();
    const next = await second;
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.release();
  });

  it('a timed-out or aborted waiter deletes its key before rejecting', async () => {
    const c = await coordinator('residue');
    const client = raw();
    const keys = () => client.getAll().prefix('residue/locks/x/').keys();
    const held = await c.lock('x').acquire();
    await expect(c.lock('x').acquire({ waitMs: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await keys()).toHaveLength(1);
    const ac = new AbortController();
    const waiting = c.lock('x').acquire({ signal: ac.signal });
    await queued('residue', 'x', 2);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(await keys()).toHaveLength(1);
    await held.release();
    expect(await keys()).toHaveLength(0);
  });

  it('reuses key names, so deleted keys do not pile up in the queue', async () => {
    const c = await coordinator('reuse');
    const client = raw();
    const lock = c.lock('x');
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const held = await lock.acquire();
      names.add(lockOwnership(c, held).key);
      await held.release();
    }
    expect(names.size).toBe(1);
    const [a, b] = [await lock.acquire(), lock.acquire()];
    await queued('reuse', 'x', 2);
    const keys = await client.getAll().prefix('reuse/locks/x/').keys();
    expect(new Set(keys).size).toBe(2);
    await a.release();
    await (await b).release();
  });
});

describe('etcd locks: shared leases and loss', () => {
  it('shares one lease among all locks with the same TTL', async () => {
    const c = await coordinator('shared');
    const client = raw();
    const handles = await Promise.all(['a', 'b', 'c'].map((n) => c.lock(n, { ttlMs: 4_000 }).acquire()));
    const other = await c.lock('d', { ttlMs: 6_000 }).acquire();
    const { kvs } = await client.getAll().prefix('shared/locks/').exec();
    const leaseOf = (name: string) =>
      kvs.find((kv) => kv.key.toString().startsWith(`shared/locks/${name}/`))!.lease;
    expect(kvs).toHaveLength(4);
    expect(new Set(['a', 'b', 'c'].map(leaseOf)).size).toBe(1);
    expect(leaseOf('d')).not.toBe(leaseOf('a'));
    await Promise.all([...handles, other].map((h) => h.release()));
  });

  it('a revoked lease aborts every handle on it; later acquires use a fresh lease', async () => {
    const c = await coordinator('revoke');
    const client = raw();
    const h1 = await c.lock('a', { ttlMs: 3_000 }).acquire();
    const h2 = await c.lock('b', { ttlMs: 3_000 }).acquire();
    const [kv] = (await client.getAll().prefix('revoke/locks/a/').exec()).kvs;
    await client.leaseClient.leaseRevoke({ ID: kv!.lease });
    // Noticed at the next keep-alive (about TTL/3).
    await Promise.all([aborted(h1.signal), aborted(h2.signal)]);
    expect(h1.signal.reason).toBeInstanceOf(LockLostError);
    expect(h2.signal.reason).toBeInstanceOf(LockLostError);
    expect(await h1.release()).toBe(false);
    const again = await c.lock('a', { ttlMs: 3_000 }).acquire({ waitMs: 5_000 });
    const [kv2] = (await client.getAll().prefix('revoke/locks/a/').exec()).kvs;
    expect(kv2!.lease).not.toBe(kv!.lease);
    expect(again.fencingToken).toBeGreaterThan(h1.fencingToken);
    await again.release();
  });

  it('a deleted key aborts its handle at the next renewal, and only that one', async () => {
    const c = await coordinator('deleted');
    const client = raw();
    const h1 = await c.lock('a', { ttlMs: 3_000 }).acquire();
    const h2 = await c.lock('b', { ttlMs: 3_000 }).acquire();
    await client.delete().key(lockOwnership(c, h1).key);
    const reason = await aborted(h1.signal);
    expect(reason).toBeInstanceOf(LockLostError);
    expect((reason as LockLostError).reason).toBe('stolen');
    expect(h2.signal.aborted).toBe(false);
    expect(await h2.isHeld()).toBe(true);
    await h2.release();
  });

  it('a waiter whose lease is revoked fails at once instead of waiting on (etcd #19597)', async () => {
    const holder = await coordinator('waiter-lease');
    const waiter = await coordinator('waiter-lease');
    const client = raw();
    const held = await holder.lock('x', { ttlMs: 3_000 }).acquire();
    const waiting = waiter.lock('x', { ttlMs: 4_000 }).acquire();
    await queued('waiter-lease', 'x', 2);
    const { kvs } = await client.getAll().prefix('waiter-lease/locks/x/').exec();
    const waiterKey = kvs.find((kv) => BigInt(kv.create_revision) > held.fencingToken)!;
    await client.leaseClient.leaseRevoke({ ID: waiterKey.lease });
    const t0 = performance.now();
    await expect(waiting).rejects.toThrow(/lease of this waiter ended/);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(held.signal.aborted).toBe(false);
    await held.release();
  });

  it('extend(ttlMs) with another TTL moves the key to that lease and keeps the token', async () => {
    const c = await coordinator('extend');
    const client = raw();
    const held = await c.lock('x', { ttlMs: 3_000 }).acquire();
    const before = (await client.getAll().prefix('extend/locks/x/').exec()).kvs[0]!;
    await held.extend(6_000);
    const after = (await client.getAll().prefix('extend/locks/x/').exec()).kvs[0]!;
    expect(after.create_revision).toBe(before.create_revision);
    expect(after.lease).not.toBe(before.lease);
    expect(held.ttlMs).toBe(6_000);
    expect(lockOwnership(c, held).createRevision).toBe(held.fencingToken);
    expect(await held.release()).toBe(true);
  });
});

describe('etcd locks: guarding your own writes', () => {
  it('lockOwnership gives the comparison etcd applies atomically with the write', async () => {
    const client = raw();
    const c = etcdCoordinator(client, { prefix: 'own' });
    open.push(c);
    const held = await c.lock('x').acquire();
    const { key, createRevision } = lockOwnership(c, held);
    expect(createRevision).toBe(held.fencingToken);
    const write = (value: string) =>
      client
        .if(key, 'Create', '==', createRevision.toString())
        .then(client.put('own-data').value(value))
        .commit();
    expect((await write('1')).succeeded).toBe(true);
    await held.release();
    expect(() => lockOwnership(c, held)).toThrow(LockLostError);
    const next = await c.lock('x').acquire();
    expect((await write('2')).succeeded).toBe(false);
    expect(await client.get('own-data').string()).toBe('1');
    await next.release();
  });

  it("the user's client is not closed by coordinator.close(), and leases are revoked", async () => {
    const client = raw();
    const c = etcdCoordinator(client, { prefix: 'owned' });
    await c.lock('x').acquire();
    await c.close();
    expect(await client.getAll().prefix('owned/').keys()).toHaveLength(0);
    await client.put('still-open').value('yes');
    expect(await client.get('still-open').string()).toBe('yes');
  });
});

describe('etcd locks: the server stops answering', () => {
  const paused = useServer('etcd');

  it('keep-alives unanswered for a TTL abort the handle; after the pause a fresh lease works', async () => {
    const c = await connect(paused.url, { prefix: 'pause', requestTimeoutMs: 1_000 });
    open.push(c);
    const held = await c.lock('x', { ttlMs: 2_000 }).acquire();
    await paused.handle.pause();
    try {
      const t0 = performance.now();
      const reason = await aborted(held.signal);
      expect(reason).toBeInstanceOf(LockLostError);
      expect(performance.now() - t0).toBeLessThan(2_000 + 1_000);
    } finally {
      await paused.handle.resume();
    }
    const again = await c.lock('x', { ttlMs: 2_000 }).acquire({ waitMs: 10_000 });
    expect(again.fencingToken).toBeGreaterThan(held.fencingToken);
    await again.release();
  });
});

describe('etcd locks: a try whose reply was lost', () => {
  it('is retried with a read of its own key, and a key the lost attempt wrote still grants the lock', async () => {
    const client = raw();
    const leaseId = await client.lease(10, { autoKeepAlive: false }).grant();
    const queue = `lost-reply-${Date.now()}/q/`;
    const contender = { queue, key: `${queue}k-0` };
    const sent: ITxnRequest[] = [];
    let dropFirstReply = true;
    // The first transaction reaches etcd and is applied; its reply is lost on the way back.
    const flaky = {
      prefix: Buffer.alloc(0),
      kv: {
        txn: async (request: ITxnRequest, options: unknown) => {
          sent.push(request);
          const res = await client.kv.txn(request, options as never);
          if (dropFirstReply) {
            dropFirstReply = false;
            throw new GRPCUnavailableError('reply lost (test)');
          }
          return res;
        },
      },
    } as unknown as Namespace;
    const rpc = new EtcdRpc(flaky, 5_000);
    const token = await tryEnqueue(rpc, contender, leaseId);
    // The lean first attempt asks for nothing on failure; the retry reads our key back, finds
    // the lost attempt's put there, re-checks that nobody is ahead of it (a third request),
    // and so holds the lock with that key's revision.
    expect(sent).toHaveLength(3);
    expect(sent[0]!.failure).toEqual([]);
    expect(sent[1]!.failure).toHaveLength(1);
    const kv = (await client.get(contender.key).exec()).kvs[0];
    expect(kv).toBeDefined();
    expect(token).toBe(BigInt(kv!.create_revision));
    await client.delete().key(contender.key);
  });
});
