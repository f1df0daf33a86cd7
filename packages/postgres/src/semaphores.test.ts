/**
 * PostgreSQL semaphores on a real server: one statement per take and per release, slots and
 * count markers as `pg_locks` shows them, the stored-count rule under concurrency, notifications
 * only when someone waits, the line of waiters across coordinators, and markers counted once by
 * the keep-alive.
 */
import { type Coordinator, InvalidArgumentError, type LockHandle } from '@lockstep/core';
import { resourceRef } from '@lockstep/core/driver';
import { useServer } from '@lockstep/testing/vitest';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { placeSemaphore } from './keys.js';
import {
  abortedAfter,
  countingPool,
  eventually,
  freshPrefix,
  open,
  overPool,
  rawClient,
  within,
} from './test-support.js';

const server = useServer('postgres');

/** A recorded permit: who, which count, and when it was held. */
interface Hold {
  readonly permits: number;
  readonly acquiredAt: number;
  readonly releasedAt: number;
}

/** The most holds that overlapped at one instant. */
function mostAtOnce(holds: readonly Hold[]): number {
  const edges = holds.flatMap((h) => [
    { at: h.acquiredAt, delta: 1 },
    { at: h.releasedAt, delta: -1 },
  ]);
  // At one instant a release counts before a grant: the slot was free for it.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.delta;
    most = Math.max(most, now);
  }
  return most;
}

/** Advisory locks a backend holds, by mode. */
async function locksOf(raw: pg.Client, pid: number): Promise<{ exclusive: number; shared: number }> {
  const result = await raw.query(
    `SELECT count(*) FILTER (WHERE mode = 'ExclusiveLock')::int AS exclusive,
            count(*) FILTER (WHERE mode = 'ShareLock')::int AS shared
     FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1`,
    [pid],
  );
  return result.rows[0];
}

/** The markers of `prefix`'s semaphore `name` declared with `permits`. */
const placed = (prefix: string, name: string, permits: number) =>
  placeSemaphore({ ...resourceRef(prefix, name), permits });

/** The backends that hold a marker of `prefix`'s semaphore `name` of `permits` (holders' primaries). */
async function holderPids(raw: pg.Client, prefix: string, name: string, permits: number): Promise<number[]> {
  const key = BigInt.asUintN(64, BigInt(placed(prefix, name, permits).held[0]!));
  const result = await raw.query(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND mode = 'ShareLock'
       AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
    [String(key >> 32n), String(key & 0xffffffffn)],
  );
  return result.rows.map((r) => r.pid as number);
}

describe('taking and giving back permits', () => {
  it('takes a permit in one statement and gives it back in one, however many permits it has', async () => {
    const counted = countingPool(server.url);
    const coord = overPool(counted.pool, { prefix: freshPrefix() });
    const semaphore = coord.semaphore('one-trip', { permits: 1000 });
    await (await semaphore.acquire()).release();
    const before = counted.statements;
    const held: LockHandle[] = [];
    for (let i = 0; i < 5; i++) held.push(await semaphore.acquire());
    for (const permit of held) await permit.release();
    expect(counted.statements - before).toBe(10);
  });

  it('holds several permits of one semaphore on one connection, each in a slot of its own', async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    const semaphore = coord.semaphore('slots', { permits: 3 });
    const permits = [
      await semaphore.tryAcquire(),
      await semaphore.tryAcquire(),
      await semaphore.tryAcquire(),
    ];
    expect(permits.every((p) => p !== null)).toBe(true);
    // Advisory locks are re-entrant per session: a fourth must not stack on a slot it holds.
    expect(await semaphore.tryAcquire()).toBeNull();
    const [pid] = await holderPids(raw, prefix, 'slots', 3);
    // Three slots, and the count's markers once each however many permits keep them.
    const shared = placed(prefix, 'slots', 3).markers.length;
    expect(await locksOf(raw, pid!)).toEqual({ exclusive: 3, shared });
    for (const permit of permits) await permit?.release();
    expect(await locksOf(raw, pid!)).toEqual({ exclusive: 0, shared: 0 });
  });

  it('gives back the slot and its markers when a stall outlasts the permit lease', async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix, idleSessionTimeout: false });
    const raw = await rawClient(server.url);
    const permit = await coord.semaphore('stall', { permits: 2, ttlMs: 1_000 }).acquire();
    const [pid] = await holderPids(raw, prefix, 'stall', 2);
    const shared = placed(prefix, 'stall', 2).markers.length;
    expect(await locksOf(raw, pid!)).toEqual({ exclusive: 1, shared });
    // Blocks the event loop past the lease: no statement is answered for a whole TTL.
    const until = performance.now() + 1_300;
    while (performance.now() < until) {}
    await within(abortedAfter(permit.signal, 0), 5_000, "the stalled permit's signal");
    await eventually(async () => (await locksOf(raw, pid!)).shared === 0, 5_000, 'the markers given back');
    expect(await locksOf(raw, pid!)).toEqual({ exclusive: 0, shared: 0 });
    expect(await permit.release()).toBe(false);
  });
});

describe('the stored count', () => {
  it('refuses another count while in use, and takes it once every permit is back', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(server.url, { prefix }), await open(server.url, { prefix })];
    const held = await a.semaphore('count', { permits: 3 }).acquire();
    await expect(b.semaphore('count', { permits: 2 }).tryAcquire()).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(b.semaphore('count', { permits: 2 }).acquire({ waitMs: 1_000 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    // The same coordinator with another count: refused before asking (its markers are shared).
    await expect(a.semaphore('count', { permits: 2 }).tryAcquire()).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const same = await b.semaphore('count', { permits: 3 }).tryAcquire();
    expect(same).not.toBeNull();
    await same?.release();
    await held.release();
    const now = await b.semaphore('count', { permits: 2 }).tryAcquire();
    expect(now).not.toBeNull();
    await expect(a.semaphore('count', { permits: 3 }).tryAcquire()).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await now?.release();
  });

  // A release gives its slot and then its markers back, and grants meet releases in every
  // order here (one permit, contenders whose next attempt meets the release): clients that
  // all declare one count must never see each other's markers as another count's.
  it('never refuses clients that all declare one count, however their grants and releases interleave', async () => {
    const prefix = freshPrefix();
    const clients = await Promise.all(Array.from({ length: 8 }, () => open(server.url, { prefix })));
    const end = performance.now() + 4_000;
    let grants = 0;
    let refused: unknown;
    await Promise.all(
      clients.map(async (client) => {
        const semaphore = client.semaphore('one-count', { permits: 1 });
        while (performance.now() < end && refused === undefined) {
          try {
            const permit = (await semaphore.tryAcquire()) ?? (await semaphore.acquire({ waitMs: 10_000 }));
            grants++;
            await permit.release();
          } catch (error) {
            refused = error;
          }
        }
      }),
    );
    expect(refused).toBeUndefined();
    expect(grants).toBeGreaterThan(50);
  });

  // Regression: holders kept one in-use marker and one marker per count, and a grant took the
  // semaphore as free when nobody else held the in-use one. A holder whose connection ends is
  // freed by the server lock by lock, in no set order: caught with its count's marker still
  // held but its in-use marker gone, it let a client of another count in (the semaphore looked
  // free), after which clients of its own count were let in too (their count looked in use) —
  // two counts holding together for good. Now every marker a holder keeps says its count, so
  // whatever part of a dying holder is left refuses other counts, and never lets them in.
  it('a holder freed halfway still refuses other counts, and two counts never hold together', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(server.url, { prefix }), await open(server.url, { prefix })];
    const half = await rawClient(server.url);
    const two = placed(prefix, 'halfway', 2);
    // Any non-empty part of count 2's markers, held by a session that holds no slot.
    for (const marker of two.held.slice(-2))
      await half.query('SELECT pg_advisory_lock_shared($1::bigint)', [marker]);
    await expect(a.semaphore('halfway', { permits: 3 }).tryAcquire()).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await half.query('SELECT pg_advisory_unlock_all()');
    const three = await a.semaphore('halfway', { permits: 3 }).tryAcquire();
    expect(three).not.toBeNull();
    await expect(b.semaphore('halfway', { permits: 2 }).tryAcquire()).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await three?.release();
    const now = await b.semaphore('halfway', { permits: 2 }).tryAcquire();
    expect(now).not.toBeNull();
    await now?.release();
  });

  it('holders declaring two counts at once never overlap, and never exceed the count they share', async () => {
    const prefix = freshPrefix();
    const clients = await Promise.all(Array.from({ length: 6 }, () => open(server.url, { prefix })));
    const holds: Hold[] = [];
    let refusals = 0;
    const end = performance.now() + 3_000;
    await Promise.all(
      clients.map(async (client, index) => {
        const permits = index % 2 === 0 ? 2 : 3;
        const semaphore = client.semaphore('two-counts', { permits });
        while (performance.now() < end) {
          let permit: LockHandle | null;
          try {
            permit = await semaphore.tryAcquire();
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidArgumentError);
            refusals++;
            await new Promise((resolve) => setTimeout(resolve, 3));
            continue;
          }
          if (!permit) continue;
          const acquiredAt = performance.now();
          await new Promise((resolve) => setTimeout(resolve, 2));
          holds.push({ permits, acquiredAt, releasedAt: performance.now() });
          await permit.release();
        }
      }),
    );
    const mixed = holds.filter((h) =>
      holds.some(
        (o) => o.permits !== h.permits && o.acquiredAt < h.releasedAt && h.acquiredAt < o.releasedAt,
      ),
    );
    expect(mixed).toEqual([]);
    for (const permits of [2, 3]) {
      const ofCount = holds.filter((h) => h.permits === permits);
      expect(mostAtOnce(ofCount)).toBeLessThanOrEqual(permits);
      expect(ofCount.length).toBeGreaterThan(0);
    }
    expect(refusals).toBeGreaterThan(0);
  });
});

describe('notifications', () => {
  /** The payloads `raw` receives on `channel`, in order. */
  async function listen(raw: pg.Client, channel: string): Promise<string[]> {
    const heard: string[] = [];
    raw.on('notification', (m) => {
      if (m.channel === channel) heard.push(m.payload ?? '');
    });
    await raw.query(`LISTEN ${channel}`);
    return heard;
  }

  it('a release notifies the channel only while another coordinator waits', async () => {
    const prefix = freshPrefix();
    const [holder, waiter] = [await open(server.url, { prefix }), await open(server.url, { prefix })];
    const { channel } = placeSemaphore({ ...resourceRef(prefix, 'quiet'), permits: 1 });
    const raw = await rawClient(server.url);
    const other = await rawClient(server.url);
    const heard = await listen(raw, channel);
    // Nobody waits: the release writes no notification. Notifications arrive in commit order,
    // so the sentinel sent after the release must be the first one heard.
    const permit = await holder.semaphore('quiet', { permits: 1 }).acquire();
    await permit.release();
    await other.query('SELECT pg_notify($1, $2)', [channel, 'sentinel']);
    await eventually(async () => heard.length > 0, 5_000, 'the sentinel');
    expect(heard).toEqual(['sentinel']);
    // Someone waits: the release notifies, and the waiter gets the permit.
    const again = await holder.semaphore('quiet', { permits: 1 }).acquire();
    const waiting = waiter.semaphore('quiet', { permits: 1 }).acquire({ waitMs: 10_000 });
    await eventually(
      async () => (await waitingMarkers(raw, prefix, 'quiet')) === 1,
      5_000,
      'the waiter listening',
    );
    await again.release();
    const granted = await within(waiting, 5_000, 'the waiter');
    await eventually(async () => heard.length > 1, 5_000, "the release's notification");
    expect(heard).toEqual(['sentinel', '']);
    await granted.release();
  });
});

describe('the line of waiters', () => {
  it('serves waiters of several coordinators in the order they queued, one re-try per release, none past them', async () => {
    const prefix = freshPrefix();
    const name = 'line';
    const holder = await open(server.url, { prefix });
    const pools = [countingPool(server.url), countingPool(server.url), countingPool(server.url)];
    const raw = await rawClient(server.url);
    const semaphore = (coord: Coordinator) => coord.semaphore(name, { permits: 1 });
    const takes = (i: number) =>
      ['semaphore_take', 'semaphore_take_timeout', 'semaphore_take_head', 'semaphore_take_head_timeout']
        .map((kind) => pools[i]!.named(kind))
        .reduce((a, b) => a + b);
    let permit = await semaphore(holder).acquire();
    const waiting: Array<Promise<LockHandle>> = [];
    for (const [i, counted] of pools.entries()) {
      waiting.push(semaphore(overPool(counted.pool, { prefix })).acquire({ waitMs: 20_000 }));
      // In line before the next one comes: the first holds the head key, the others queue for it.
      await eventually(async () => (await inLine(raw, prefix, name)) === i + 1, 5_000, `waiter ${i} in line`);
    }
    for (let i = 0; i < pools.length; i++) {
      const before = pools.map((_, j) => takes(j));
      await permit.release();
      // The releaser asks again at once: the permit is the head's, free or not.
      expect(await semaphore(holder).tryAcquire(), `the releaser past waiter ${i}`).toBeNull();
      permit = await within(waiting[i]!, 5_000, `waiter ${i}, next in line`);
      // The grant made the next in line head, which tried once at most (in vain); those
      // behind it sent nothing.
      if (i + 1 < pools.length)
        expect(takes(i + 1) - before[i + 1]!, `the next head's tries`).toBeLessThanOrEqual(1);
      for (let j = i + 2; j < pools.length; j++)
        expect(takes(j), `waiter ${j} behind the head`).toBe(before[j]);
    }
    await permit.release();
    expect(await inLine(raw, prefix, name)).toBe(0);
  });

  it('a head that gives up leaves the line at once, and the next waiter is served', async () => {
    const prefix = freshPrefix();
    const name = 'line-abort';
    const [holder, quitter, patient] = [
      await open(server.url, { prefix }),
      await open(server.url, { prefix }),
      await open(server.url, { prefix }),
    ];
    const raw = await rawClient(server.url);
    const permit = await holder.semaphore(name, { permits: 1 }).acquire();
    const controller = new AbortController();
    const quitting = quitter.semaphore(name, { permits: 1 }).acquire({ signal: controller.signal });
    await eventually(
      async () => (await inLine(raw, prefix, name)) === 1,
      5_000,
      'the first waiter at the head',
    );
    const waiting = patient.semaphore(name, { permits: 1 }).acquire({ waitMs: 20_000 });
    await eventually(async () => (await inLine(raw, prefix, name)) === 2, 5_000, 'the second waiter in line');
    controller.abort(new Error('gave up'));
    await expect(quitting).rejects.toThrow('gave up');
    await eventually(
      async () => (await inLine(raw, prefix, name)) === 1,
      5_000,
      'the quitter out of the line',
    );
    await permit.release();
    const granted = await within(waiting, 5_000, 'the second waiter');
    await granted.release();
    expect(await inLine(raw, prefix, name)).toBe(0);
  });
});

/** Backends that hold or queue for `prefix`'s semaphore `name`'s head key. */
async function inLine(raw: pg.Client, prefix: string, name: string): Promise<number> {
  const key = BigInt.asUintN(64, placeSemaphore({ ...resourceRef(prefix, name), permits: 1 }).head);
  const result = await raw.query(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
       AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
    [String(key >> 32n), String(key & 0xffffffffn)],
  );
  return result.rows[0].n;
}

/** Coordinators that listen for `prefix`'s semaphore `name` (hold its waiting marker). */
async function waitingMarkers(raw: pg.Client, prefix: string, name: string): Promise<number> {
  const key = BigInt.asUintN(64, placeSemaphore({ ...resourceRef(prefix, name), permits: 1 }).waiting);
  const result = await raw.query(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND mode = 'ShareLock'
       AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
    [String(key >> 32n), String(key & 0xffffffffn)],
  );
  return result.rows[0].n;
}

describe('the keep-alive', () => {
  it('counts each marker once: permits held for two TTLs cost no per-lock checks', async () => {
    const counted = countingPool(server.url, 4);
    const coord = overPool(counted.pool, { prefix: freshPrefix() });
    const permits = [
      await coord.semaphore('kept', { permits: 3, ttlMs: 1_000 }).acquire(),
      await coord.semaphore('kept', { permits: 3, ttlMs: 1_000 }).acquire(),
      await coord.semaphore('kept-too', { permits: 2, ttlMs: 1_000 }).acquire(),
    ];
    const read = await coord.readWriteLock('kept-read', { ttlMs: 1_000 }).read.acquire();
    const keepAlives = counted.named('keepalive');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // Keep-alives went out, and never the per-lock query that follows a count that disagrees.
    expect(counted.named('keepalive') - keepAlives).toBeGreaterThanOrEqual(3);
    expect(counted.named('held')).toBe(0);
    for (const permit of [...permits, read]) {
      expect(permit.signal.aborted).toBe(false);
      expect(await permit.isHeld()).toBe(true);
      await permit.release();
    }
  });
});
