/**
 * ZooKeeper semaphores against a real server: the lease layout (the count in the name and the
 * data, the czxid as the token), no herd on release, a waiter behind a lease that comes to hold
 * woken without waiting for its fallback, Curator's unnamed leases read once for their count,
 * and leftover nodes removed.
 */
import { randomUUID } from 'node:crypto';
import { type Coordinator, connect } from '@lockstep/core';
import { encodeName } from '@lockstep/core/driver';
import { useServer } from '@lockstep/testing/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { zookeeperCoordinator } from './index.js';
import { REAP_DELAY_MS } from './leftovers.js';
import { createRawClient, type ZooKeeperClient, zxid } from './raw.js';
import { namedPermits } from './semaphores.js';
import { countRequests, look, rawClient, serversOf, until } from './test-support/raw.js';

const zk = useServer('zookeeper');
const opened: Coordinator[] = [];
const rawClients: ZooKeeperClient[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((c) => c.close()));
  for (const client of rawClients.splice(0)) client.close();
});

async function coordinator(): Promise<Coordinator> {
  const c = await connect(`${zk.url}?sessionTimeoutMs=10000`);
  opened.push(c);
  return c;
}

/** A coordinator whose client's requests are counted. */
function counted(): { coordinator: Coordinator; counts: () => Map<string, number> } {
  let counts = new Map<string, number>();
  const c = zookeeperCoordinator(() => {
    const client = createRawClient(serversOf(zk.url), { sessionTimeout: 10_000, retries: 0 });
    counts = countRequests(client);
    return client;
  });
  opened.push(c);
  return { coordinator: c, counts: () => counts };
}

async function raw() {
  const client = await rawClient(zk.url);
  rawClients.push(client);
  return { client, tree: look(client) };
}

const unique = (what: string) => `${what}-${Math.random().toString(36).slice(2, 8)}`;
const queueOf = (name: string) => `/lockstep/semaphores/${encodeName(name)}`;
const LEASE = /^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-lease-of-3-\d{10}$/;

describe('the lease queue', () => {
  it('is one queue apart from the lock of the name: leases carry their count, their czxid is the token', async () => {
    const c = await coordinator();
    const { tree } = await raw();
    const name = unique('a/b c%');
    const permits = [
      await c.semaphore(name, { permits: 3 }).acquire(),
      await c.semaphore(name, { permits: 3 }).acquire(),
    ];
    const lock = await c.lock(name).acquire();
    const leases = await tree.children(queueOf(name));
    expect(leases).toHaveLength(2);
    for (const lease of leases) {
      expect(lease).toMatch(LEASE);
      expect(namedPermits(lease)).toBe(3);
      expect(await tree.data(`${queueOf(name)}/${lease}`)).toBe('3');
    }
    const tokens = await Promise.all(
      leases.map(async (lease) => zxid((await tree.stat(`${queueOf(name)}/${lease}`))!.czxid)),
    );
    expect(permits.map((p) => p.fencingToken).sort()).toEqual(tokens.sort());
    expect(await tree.children(`/lockstep/locks/${encodeName(name)}`)).toHaveLength(1);
    for (const permit of permits) await permit.release();
    await lock.release();
    expect(await tree.children(queueOf(name))).toEqual([]);
  });

  it('an uncontended acquire is one multi; with others holding, one listing more', async () => {
    const name = unique('trips');
    const { coordinator: c, counts } = counted();
    const other = await coordinator();
    await (await c.semaphore(name, { permits: 2 }).acquire()).release(); // connects, creates the queue
    const trips = () => Object.fromEntries([...counts()].filter(([method]) => method !== 'exists'));
    counts().clear();
    const alone = await c.semaphore(name, { permits: 2 }).acquire();
    expect(trips()).toEqual({ transaction: 1 });
    await alone.release();
    const theirs = await other.semaphore(name, { permits: 2 }).acquire();
    counts().clear();
    const beside = await c.semaphore(name, { permits: 2 }).acquire();
    // Counts come from the names: no lease is read.
    expect(trips()).toEqual({ transaction: 1, getChildren: 1 });
    await beside.release();
    await theirs.release();
  });

  it('a release wakes one waiter only, and permits go in arrival order', async () => {
    const name = unique('herd');
    const holders = [await coordinator(), await coordinator()];
    const { tree } = await raw();
    const held = await Promise.all(holders.map((h) => h.semaphore(name, { permits: 2 }).acquire()));
    const waiters = Array.from({ length: 4 }, counted);
    const order: number[] = [];
    const waits = [];
    for (const [i, waiter] of waiters.entries()) {
      waits.push(
        waiter.coordinator
          .semaphore(name, { permits: 2 })
          .acquire()
          .then((permit) => {
            order.push(i);
            return permit;
          }),
      );
      await until(`waiter ${i} queued`, async () => (await tree.children(queueOf(name))).length === i + 3);
    }
    // Every waiter set its watch (the first one on the queue, the others on the lease ahead).
    await until('waiters watching', () =>
      waiters.every(({ counts }, i) =>
        i === 0 ? (counts().get('getChildren') ?? 0) >= 2 : (counts().get('getData') ?? 0) >= 1,
      ),
    );
    for (const { counts } of waiters) counts().clear();
    await held[0]!.release();
    const first = await waits[0]!;
    expect(order).toEqual([0]);
    // Only the first waiter looked at the queue; it then woke the one behind it (one setData).
    const looked = waiters.map(({ counts }) => counts().get('getChildren') ?? 0);
    expect(looked[0]).toBeGreaterThanOrEqual(1);
    expect(looked.slice(2)).toEqual([0, 0]);
    await held[1]!.release();
    await first.release();
    for (const wait of waits.slice(1)) await (await wait).release();
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('a waiter behind a lease that comes to hold is woken by its version bump, not by its fallback', async () => {
    const name = unique('pass-on');
    const [h1, h2, w1] = [await coordinator(), await coordinator(), await coordinator()];
    const { tree } = await raw();
    const held = [
      await h1.semaphore(name, { permits: 2 }).acquire(),
      await h2.semaphore(name, { permits: 2 }).acquire(),
    ];
    const first = w1.semaphore(name, { permits: 2 }).acquire();
    await until('first waiter queued', async () => (await tree.children(queueOf(name))).length === 3);
    const second = counted();
    const behind = second.coordinator.semaphore(name, { permits: 2 }).acquire();
    // Its watch on the lease ahead, then its first fallback re-check (about 1 s): the next one is
    // about 2 s away, long after the grant below is due.
    await until(
      'second waiter past its first fallback',
      () => (second.counts().get('getData') ?? 0) >= 2,
      10_000,
    );
    await held[0]!.release();
    const firstPermit = await first;
    const releasedAt = performance.now();
    await held[1]!.release();
    const secondPermit = await behind;
    const waited = performance.now() - releasedAt;
    expect(waited).toBeLessThan(600);
    expect(secondPermit.fencingToken).toBeGreaterThan(firstPermit.fencingToken);
    await firstPermit.release();
    await secondPermit.release();
  });
});

describe('native semaphores (Curator’s InterProcessSemaphoreV2 layout)', () => {
  /** A lease as a Curator client creates it: no count in its name, `data` as its data. */
  async function curatorLease(client: ZooKeeperClient, path: string, data: string): Promise<string> {
    const tree = look(client);
    for (const node of ['/native', path, `${path}/leases`]) await tree.create(node).catch(() => {});
    return new Promise((resolve, reject) =>
      client.create(`${path}/leases/_c_${randomUUID()}-lease-`, Buffer.from(data), 3, (error, created) =>
        error ? reject(error) : resolve(created),
      ),
    );
  }

  it("keeps to a count a Curator lease's data declares, reads it once, and ignores an address", async () => {
    const { client } = await raw();
    const { coordinator: c, counts } = counted();
    const strict = `/native/${unique('strict')}`;
    await curatorLease(client, strict, '1');
    expect(await c.semaphore('s', { permits: 3, native: strict }).tryAcquire()).toBeNull();
    counts().clear();
    expect(await c.semaphore('s', { permits: 3, native: strict }).tryAcquire()).toBeNull();
    expect(counts().get('getData') ?? 0).toBe(0);

    // Curator's default data is the client's address: no count, so only ours applies.
    const loose = `/native/${unique('loose')}`;
    await curatorLease(client, loose, '10.1.2.3');
    const permit = await c.semaphore('s', { permits: 2, native: loose }).tryAcquire();
    expect(permit).not.toBeNull();
    expect(await c.semaphore('s', { permits: 2, native: loose }).tryAcquire()).toBeNull();
    await permit!.release();
  });

  it('waits at the turnstile, and removes the nodes it created once idle (only those)', async () => {
    const [a, b] = [await coordinator(), await coordinator()];
    const { tree } = await raw();
    const path = `/native/${unique('exports')}`;
    const held = await a.semaphore('s', { permits: 1, native: path }).acquire();
    const waiting = b.semaphore('s', { permits: 1, native: path }).acquire();
    // The waiter holds the turnstile with its lease counted, as Curator's acquirer does.
    await until('waiter at the turnstile', async () => (await tree.children(`${path}/leases`)).length === 2);
    expect(await tree.children(`${path}/locks`)).toHaveLength(1);
    await held.release();
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.release();
    await until('native nodes removed', async () => (await tree.stat(path)) === null, REAP_DELAY_MS + 5_000);

    const theirs = `/native/${unique('theirs')}`;
    await tree.create(theirs);
    await (await a.semaphore('s', { permits: 1, native: theirs }).acquire()).release();
    await until(
      'our nodes under their path removed',
      async () => (await tree.children(theirs)).length === 0,
      REAP_DELAY_MS + 5_000,
    );
    expect(await tree.stat(theirs)).not.toBeNull();
  });
});
