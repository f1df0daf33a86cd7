/**
 * The ZooKeeper recipe against a real server: layout and naming, czxid tokens, FIFO without a
 * herd, protected creates (lost replies adopted, late creates swept), queue-node cleanup,
 * the session trust clock, your own client, counters. One server for the whole file.
 */
import type { EventEmitter } from 'node:events';
import {
  type Coordinator,
  connect,
  InvalidArgumentError,
  LockLostError,
  LockTimeoutError,
} from '@lockstep/core';
import { encodeName } from '@lockstep/core/driver';
import { faultProxy } from '@lockstep/testing';
import { useServer } from '@lockstep/testing/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, ZkError } from './errors.js';
import { zookeeperCoordinator } from './index.js';
import { REAP_DELAY_MS } from './leftovers.js';
import { queueOrder } from './queue.js';
import { createRawClient, type RawTransaction, type ZooKeeperClient, zxid } from './raw.js';
import { aborted, countRequests, driverOf, look, rawClient, serversOf, until } from './test-support/raw.js';

const zk = useServer('zookeeper');
/** node-zookeeper-client's watcher registry: one emitter per watched path. */
type WatcherManager = { dataWatchers: Record<string, EventEmitter | undefined> };
/** Short sessions keep the loss tests quick; the test server accepts 1 s and up. */
const SESSION_MS = 2_000;

const opened: Coordinator[] = [];
const rawClients: ZooKeeperClient[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((c) => c.close()));
  for (const client of rawClients.splice(0)) client.close();
});

async function coordinator(url = zk.url, query = `sessionTimeoutMs=${SESSION_MS}`): Promise<Coordinator> {
  const c = await connect(`${url}?${query}`);
  opened.push(c);
  return c;
}

async function raw(): Promise<ReturnType<typeof look>> {
  const client = await rawClient(zk.url);
  rawClients.push(client);
  return look(client);
}

const unique = (what: string) => `${what}-${Math.random().toString(36).slice(2, 8)}`;
const queueOf = (name: string, prefix = 'lockstep') => `/${prefix}/locks/${encodeName(name)}`;
const PROTECTED = /^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-lock-\d{10}$/;

describe('inspect', () => {
  it('tells the holder (owner id, czxid token) and how many wait; a free lock has none', async () => {
    const [a, b] = [await coordinator(), await coordinator()];
    const name = unique('inspected');
    expect(await a.inspect(name)).toEqual({ name, holders: [], waiting: 0 });
    const held = await a.lock(name).acquire();
    const tree = await raw();
    const waiters = [b.lock(name).acquire(), b.lock(name).acquire()];
    await until('both waiters queued', async () => (await tree.children(queueOf(name))).length === 3);
    const seen = await b.inspect(name);
    expect(seen.holders).toHaveLength(1);
    expect(seen.holders[0]!.fencingToken).toBe(held.fencingToken);
    expect(seen.holders[0]!.owner).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.holders[0]!.leftMs).toBeUndefined();
    expect(seen.waiting).toBe(2);
    await held.release();
    for (const waiter of waiters) await (await waiter).release();
    expect(await a.inspect(name)).toEqual({ name, holders: [], waiting: 0 });
  }, 30_000);
});

describe('layout, naming and tokens', () => {
  it("names contenders as Curator does and uses the node's czxid as the fencing token", async () => {
    const c = await coordinator();
    const tree = await raw();
    const name = unique('a/b c%');
    const held = await c.lock(name).acquire();
    const children = await tree.children(queueOf(name));
    expect(children).toHaveLength(1);
    expect(children[0]).toMatch(PROTECTED);
    const stat = await tree.stat(`${queueOf(name)}/${children[0]}`);
    expect(held.fencingToken).toBe(zxid(stat!.czxid));
    // The ephemeral node belongs to this coordinator's session.
    expect(stat!.ephemeralOwner.toString('hex')).toBe(driverOf(c).source.current!.id);
    expect(await held.release()).toBe(true);
    expect(await tree.children(queueOf(name))).toEqual([]);
  });

  it('keeps locks and counters apart, honours a chroot and never writes under /zookeeper', async () => {
    const tree = await raw();
    const chrooted = await coordinator(`${zk.url}/apps/billing`);
    const name = unique('x');
    const held = await chrooted.lock(name).acquire();
    await chrooted.counter(name).increment(7);
    expect(await tree.children(`/apps/billing${queueOf(name)}`)).toHaveLength(1);
    expect(await tree.data(`/apps/billing/lockstep/counters/${encodeName(name)}`)).toBe('7');
    await held.release();

    const reserved = await coordinator(zk.url, `sessionTimeoutMs=${SESSION_MS}&prefix=zookeeper`);
    const other = await reserved.lock(name).acquire();
    expect(await tree.children(queueOf(name, '%7Aookeeper'))).toHaveLength(1);
    await other.release();
  });

  it('rejects bad native paths before any I/O and queues native locks right under the path', async () => {
    const c = await coordinator();
    for (const bad of ['relative', '/', '/a//b', '/a/', '/a/./b', '/zookeeper/x', '/a\u0000b', 42n, [1, 2]]) {
      expect(() => c.lock('n', { native: bad as never })).toThrow(InvalidArgumentError);
    }
    const tree = await raw();
    const path = `/native/${unique('reports')}`;
    const held = await c.lock('whatever', { native: path }).acquire();
    const [child] = await tree.children(path);
    expect(child).toMatch(PROTECTED);
    expect(held.fencingToken).toBe(zxid((await tree.stat(`${path}/${child}`))!.czxid));
    await held.release();
    // lockstep created this queue node: it removes it once idle.
    await until(
      'native queue created here removed',
      async () => (await tree.stat(path)) === null,
      REAP_DELAY_MS + 5_000,
    );

    // A native path someone else made (an operator, a Curator service) is theirs: it stays.
    const theirs = `/native/${unique('theirs')}`;
    await tree.create(theirs);
    await (await c.lock('whatever', { native: theirs }).acquire()).release();
    await new Promise((r) => setTimeout(r, REAP_DELAY_MS + 500));
    expect(await tree.stat(theirs)).not.toBeNull();
    expect(await tree.children(theirs)).toEqual([]);
  });
});

describe('the queue', () => {
  it('grants in arrival order and wakes only the next waiter (no herd)', async () => {
    const name = unique('fifo');
    const counts: Map<string, number>[] = [];
    const clients: Coordinator[] = [];
    for (let i = 0; i < 5; i++) {
      const c = zookeeperCoordinator(() => {
        const client = createRawClient(serversOf(zk.url), { sessionTimeout: 10_000, retries: 0 });
        counts[i] = countRequests(client);
        return client;
      });
      opened.push(c);
      clients.push(c);
    }
    const tree = await raw();
    const holder = await clients[0]!.lock(name).acquire();
    const order: number[] = [];
    const waits = [];
    for (let i = 1; i < 5; i++) {
      waits.push(
        clients[i]!.lock(name)
          .acquire()
          .then((h) => {
            order.push(i);
            return h;
          }),
      );
      await until(`waiter ${i} queued`, async () => (await tree.children(queueOf(name))).length === i + 1);
    }
    for (const c of counts) c.clear();
    await holder.release();
    const first = await waits[0]!;
    expect(order).toEqual([1]);
    // Only the first waiter's client looked at the queue again; the others kept their watches.
    expect(counts.map((c) => c.get('getChildren') ?? 0)).toEqual([0, 1, 0, 0, 0]);
    let previous = first;
    await previous.release();
    for (let i = 1; i < waits.length; i++) {
      const next = await waits[i]!;
      expect(next.fencingToken).toBeGreaterThan(previous.fencingToken);
      previous = next;
      await next.release();
    }
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('round trips: an uncontended acquire is one multi, a refused tryAcquire lists nothing, a waiter lists once', async () => {
    const name = unique('trips');
    let counts = new Map<string, number>();
    const c = zookeeperCoordinator(() => {
      const client = createRawClient(serversOf(zk.url), { sessionTimeout: 10_000, retries: 0 });
      counts = countRequests(client);
      return client;
    });
    opened.push(c);
    // The session's own heartbeat (`exists /`) is not part of any lock operation.
    const trips = () => Object.fromEntries([...counts].filter(([method]) => method !== 'exists'));
    const other = await coordinator();
    await (await c.lock(name).acquire()).release(); // connects and creates the queue node
    counts.clear();
    const held = await c.lock(name).acquire();
    expect(trips()).toEqual({ transaction: 1 });
    await held.release();
    const theirs = await other.lock(name).acquire();
    counts.clear();
    expect(await c.lock(name).tryAcquire()).toBeNull();
    // The multi's reply counted the holder's node ahead of ours: no listing, just our delete.
    expect(trips()).toEqual({ transaction: 1, remove: 1 });
    counts.clear();
    const waiting = c.lock(name).acquire();
    await until('waiter watching', async () => (counts.get('getData') ?? 0) === 1);
    expect(counts.get('getChildren')).toBe(1);
    await theirs.release();
    const mine = await waiting;
    expect(mine.fencingToken).toBeGreaterThan(theirs.fencingToken);
    await mine.release();
  });

  it('a waiter re-checking on its fallback timer keeps one watcher on its predecessor', async () => {
    const [a, b] = [await coordinator(), await coordinator()];
    const tree = await raw();
    const name = unique('rewatch');
    const held = await a.lock(name).acquire();
    const client = driverOf(b).source.current!.client;
    const counts = countRequests(client);
    const waiting = b.lock(name).acquire();
    // The watch, then the fallback re-checks after about 1 s and 2 s more, each setting it again.
    await until('two fallback re-checks', async () => (counts.get('getData') ?? 0) >= 3, 15_000);
    const [holderNode] = queueOrder(await tree.children(queueOf(name)));
    const manager = (client as unknown as { connectionManager: { watcherManager: WatcherManager } })
      .connectionManager.watcherManager;
    expect(manager.dataWatchers[`${queueOf(name)}/${holderNode}`]?.listenerCount('notification')).toBe(1);
    await held.release();
    await (await waiting).release();
  });

  it('a waiter that times out or is aborted deletes its node before it rejects', async () => {
    const [a, b] = [await coordinator(), await coordinator()];
    const tree = await raw();
    const name = unique('leave');
    const held = await a.lock(name).acquire();
    await expect(b.lock(name).acquire({ waitMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await tree.children(queueOf(name))).toHaveLength(1);
    const stop = new AbortController();
    const waiting = b.lock(name).acquire({ signal: stop.signal });
    await until('waiter queued', async () => (await tree.children(queueOf(name))).length === 2);
    stop.abort(new Error('enough'));
    await expect(waiting).rejects.toThrow('enough');
    expect(await tree.children(queueOf(name))).toHaveLength(1);
    expect(await b.lock(name).tryAcquire()).toBeNull();
    expect(await tree.children(queueOf(name))).toHaveLength(1);
    await held.release();
  });

  it('removes a queue node once nobody uses it, and not while someone does', async () => {
    const [a, b] = [await coordinator(), await coordinator()];
    const tree = await raw();
    const name = unique('reap');
    const held = await a.lock(name).acquire();
    const waiting = b.lock(name).acquire();
    await until('waiter queued', async () => (await tree.children(queueOf(name))).length === 2);
    await held.release();
    const next = await waiting;
    // a's reaper runs while b still holds: the delete fails (NOT_EMPTY) and nothing breaks.
    await new Promise((r) => setTimeout(r, REAP_DELAY_MS + 500));
    expect(await tree.stat(queueOf(name))).not.toBeNull();
    expect(await next.isHeld()).toBe(true);
    await next.release();
    await until(
      'queue node removed',
      async () => (await tree.stat(queueOf(name))) === null,
      REAP_DELAY_MS + 5_000,
    );
    // And the lock works again from scratch.
    const again = await a.lock(name).acquire();
    await again.release();
  });
});

describe('protected creates (ZOOKEEPER-1262)', () => {
  it('adopts a node whose create reply was lost instead of creating a second one', async () => {
    const c = await coordinator();
    const tree = await raw();
    const name = unique('adopt');
    // Warm the queue node so the first multi is the enqueue itself.
    await (await c.lock(name).acquire()).release();
    const session = driverOf(c).source.current!;
    const real = session.multi.bind(session);
    let lost = 0;
    session.multi = async (what, build) => {
      const results = await real(what, build);
      if (lost++ === 0) throw new ZkError(Code.CONNECTION_LOSS, `${what}: simulated lost reply`);
      return results;
    };
    const held = await c.lock(name).acquire();
    const children = await tree.children(queueOf(name));
    expect(lost).toBe(1);
    expect(children).toHaveLength(1);
    expect(held.fencingToken).toBe(zxid((await tree.stat(`${queueOf(name)}/${children[0]}`))!.czxid));
    expect(await held.release()).toBe(true);
    expect(await tree.children(queueOf(name))).toEqual([]);
  });

  it('deletes a create that lands after it was given up for lost', async () => {
    const c = await coordinator();
    const client = await rawClient(zk.url);
    rawClients.push(client);
    const tree = look(client);
    const name = unique('orphan');
    await (await c.lock(name).acquire()).release();
    const session = driverOf(c).source.current!;
    const real = session.multi.bind(session);
    let firstPrefix: string | undefined;
    session.multi = async (what, build) => {
      if (firstPrefix === undefined) {
        // Record what would have been created, send nothing, and report a lost connection.
        build({
          create: (path: string) => {
            firstPrefix = path.slice(path.lastIndexOf('/') + 1);
            return undefined as unknown as RawTransaction;
          },
          setData: () => undefined as unknown as RawTransaction,
        } as unknown as RawTransaction);
        throw new ZkError(Code.CONNECTION_LOSS, `${what}: simulated lost connection`);
      }
      return real(what, build);
    };
    const held = await c.lock(name).acquire();
    expect(firstPrefix).toMatch(/^_c_.*-lock-$/);
    // The lost create "lands" late, behind the holder.
    await new Promise<void>((resolve, reject) =>
      client.create(`${queueOf(name)}/${firstPrefix}`, Buffer.alloc(0), 3, (e) =>
        e ? reject(e) : resolve(),
      ),
    );
    expect(await tree.children(queueOf(name))).toHaveLength(2);
    await until('late create swept', async () => (await tree.children(queueOf(name))).length === 1);
    expect(await held.isHeld()).toBe(true);
    await held.release();
  });
});

describe('session trust', () => {
  it('a holder cut off (silently) past its session timeout loses its lock before anyone else gets it', async () => {
    const proxy = await faultProxy(zk.url);
    try {
      const cutOff = await coordinator(proxy.url);
      const other = await coordinator();
      const tree = await raw();
      const name = unique('partition');
      const held = await cutOff.lock(name).acquire();
      const firstSession = driverOf(cutOff).source.current!.id;
      let grantedAt = Number.POSITIVE_INFINITY;
      const waiting = other
        .lock(name)
        .acquire({ waitMs: 30_000 })
        .then((h) => {
          grantedAt = performance.now();
          return h;
        });
      await until('waiter queued', async () => (await tree.children(queueOf(name))).length === 2);
      // A pause drops nothing and closes nothing: node-zookeeper-client sees no disconnect at all.
      const pausedAt = performance.now();
      proxy.pause();
      const reason = await aborted(held.signal);
      const abortedAt = performance.now();
      expect(reason).toBeInstanceOf(LockLostError);
      expect((reason as LockLostError).reason).toBe('session-lost');
      expect(abortedAt - pausedAt).toBeLessThan(SESSION_MS + 2_000);
      const next = await waiting;
      expect(abortedAt).toBeLessThanOrEqual(grantedAt);
      expect(next.fencingToken).toBeGreaterThan(held.fencingToken);

      proxy.heal();
      // The stale handle's release touches nothing of the new holder's.
      expect(await held.release()).toBe(false);
      expect(await next.isHeld()).toBe(true);
      expect(await tree.children(queueOf(name))).toHaveLength(1);
      await next.release();
      // The cut-off coordinator carries on with a new client and session.
      const again = await cutOff.lock(name).acquire({ waitMs: 10_000 });
      expect(driverOf(cutOff).source.current!.id).not.toBe(firstSession);
      expect(again.fencingToken).toBeGreaterThan(next.fencingToken);
      await again.release();
    } finally {
      await proxy.close();
    }
  });

  it('a waiter whose session is lost queues again on a new one and still gets the lock', async () => {
    const proxy = await faultProxy(zk.url);
    try {
      const [holder, waiterClient] = [await coordinator(), await coordinator(proxy.url)];
      const tree = await raw();
      const name = unique('requeue');
      const held = await holder.lock(name).acquire();
      const firstSession = driverOf(waiterClient).source.current!.id;
      const waiting = waiterClient.lock(name).acquire({ waitMs: 30_000 });
      await until('waiter queued', async () => (await tree.children(queueOf(name))).length === 2);
      proxy.pause();
      await until(
        'waiter session lost',
        async () => driverOf(waiterClient).source.current?.id !== firstSession,
      );
      // The server expires the old session and its node with it.
      await until('old waiter node gone', async () => (await tree.children(queueOf(name))).length === 1);
      proxy.heal();
      await until('waiter queued again', async () => (await tree.children(queueOf(name))).length === 2);
      await held.release();
      const mine = await waiting;
      expect(mine.fencingToken).toBeGreaterThan(held.fencingToken);
      expect(driverOf(waiterClient).source.current!.id).not.toBe(firstSession);
      await mine.release();
    } finally {
      await proxy.close();
    }
  });

  it('EXPIRED aborts every held lock and later calls get a new client', async () => {
    const c = await coordinator();
    const session = driverOf(c).source.current!;
    const [x, y] = [await c.lock(unique('x')).acquire(), await c.lock(unique('y')).acquire()];
    session.client.emit('expired');
    const reasons = await Promise.all([aborted(x.signal), aborted(y.signal)]);
    for (const reason of reasons) expect((reason as LockLostError).reason).toBe('session-lost');
    const z = await c.lock(unique('z')).acquire();
    expect(driverOf(c).source.current).not.toBe(session);
    expect(driverOf(c).source.current!.client).not.toBe(session.client);
    await z.release();
  });

  it('fails fast with BackendUnavailableError when nothing answers', async () => {
    const proxy = await faultProxy(zk.url);
    try {
      proxy.pause();
      const started = performance.now();
      await expect(connect(`${proxy.url}?connectTimeoutMs=800`)).rejects.toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
      });
      expect(performance.now() - started).toBeLessThan(3_000);
    } finally {
      await proxy.close();
    }
  });
});

describe('your own client', () => {
  it('is used as is and left open by close(); a factory’s clients are closed', async () => {
    const client = await rawClient(zk.url);
    rawClients.push(client);
    const borrowed = zookeeperCoordinator(client);
    const name = unique('own');
    const held = await borrowed.lock(name).acquire();
    expect(await (await raw()).children(queueOf(name))).toHaveLength(1);
    await borrowed.close();
    expect(client.getState().code).toBe(3); // SYNC_CONNECTED: still usable
    expect(await look(client).children(queueOf(name))).toEqual([]); // close() released the lock
    expect(held.signal.aborted).toBe(false);

    let made: ZooKeeperClient | undefined;
    const owned = zookeeperCoordinator(() => {
      made = createRawClient(serversOf(zk.url), { retries: 0 });
      return made;
    });
    await (await owned.lock(name).acquire()).release();
    await owned.close();
    expect(made!.getState().code).not.toBe(3);
  });

  it('rejects what is not a client', () => {
    expect(() => zookeeperCoordinator({} as never)).toThrow(InvalidArgumentError);
  });
});

describe('counters', () => {
  it('stores decimal text, refuses bound violations without writing, and CASes at version 0 for real', async () => {
    const [a, b] = [await coordinator(), await coordinator()];
    const tree = await raw();
    const name = unique('n');
    const path = `/lockstep/counters/${encodeName(name)}`;
    expect(await a.counter(name).get()).toBe(0);
    expect(await tree.stat(path)).toBeNull();
    await a.counter(name).set(5); // created: version 0, remembered by a
    await b.counter(name).set(4); // version 1, behind a's back
    // a's remembered state says 5 ≠ 4; only a real version check reveals it is stale.
    expect(await a.counter(name).compareAndSet(4, 9)).toBe(true);
    expect(await tree.data(path)).toBe('9');
    const bounded = a.counter(name, { max: 10 });
    await expect(bounded.increment(2)).rejects.toMatchObject({ code: 'COUNTER_BOUND' });
    expect(await tree.data(path)).toBe('9');
    expect(await bounded.increment()).toBe(10);
    const results = await Promise.all(Array.from({ length: 50 }, () => b.counter(name).decrement()));
    expect(new Set(results).size).toBe(50);
    expect(await a.counter(name).get()).toBe(-40);
  });
});
