/**
 * PostgreSQL-specific lock behaviour on a real server: round trips, pinned sessions, local
 * non-reentrancy, loss detection, FIFO waiting with a bounded number of connections, clean
 * aborts. (The shared suite runs in conformance.test.ts.)
 */
import { readFile } from 'node:fs/promises';
import { BackendUnavailableError, LockLostError, LockTimeoutError, UnsupportedError } from '@lockstep/core';
import { hash64 } from '@lockstep/core/driver';
import { useServer } from '@lockstep/testing/vitest';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { advisoryKeyOf, pgLocksIdentity } from './keys.js';
import {
  abortedAfter,
  advisoryLocks,
  causes,
  connectionsOf,
  countingPool,
  eventually,
  freshAppName,
  freshPrefix,
  open,
  overPool,
  rawClient,
  withAppName,
  within,
} from './test-support.js';

const server = useServer('postgres');

/** The pg_locks identity of lockstep lock `name` under `prefix`. */
function identityOf(prefix: string, name: string) {
  return pgLocksIdentity({ kind: 'bigint', key: hash64(prefix, name) });
}

async function holderPid(raw: pg.Client, prefix: string, name: string): Promise<number | undefined> {
  const id = identityOf(prefix, name);
  const rows = await advisoryLocks(raw);
  return rows.find((r) => r.granted && r.classid === id.classid && r.objid === id.objid && r.objsubid === 1)
    ?.pid;
}

async function waitingCount(raw: pg.Client): Promise<number> {
  return (await advisoryLocks(raw)).filter((r) => !r.granted).length;
}

describe('round trips', () => {
  it('takes an uncontended lock in one statement and gives it back in one', async () => {
    const counted = countingPool(server.url);
    const coord = overPool(counted.pool, { prefix: freshPrefix() });
    const lock = coord.lock('one-trip');
    // The first use opens the primary session (connect + probe) and creates the tables.
    await (await lock.acquire()).release();
    const before = counted.statements;
    const held = await lock.acquire();
    const afterAcquire = counted.statements;
    await held.release();
    expect(afterAcquire - before).toBe(1);
    expect(counted.statements - afterAcquire).toBe(1);
  });

  it('a contended tryAcquire costs one statement and writes nothing', async () => {
    const prefix = freshPrefix();
    const holder = await open(server.url, { prefix });
    const counted = countingPool(server.url);
    const other = overPool(counted.pool, { prefix });
    for (const registered of [false, true]) {
      const name = registered ? 'busy-registered' : 'busy';
      // Once `other` has held the name, its statements leave the registry out (another form).
      if (registered) await (await other.lock(name).acquire()).release();
      else await (await other.lock('warm').acquire()).release();
      const held = await holder.lock(name).acquire();
      const before = counted.statements;
      expect(await other.lock(name).tryAcquire()).toBeNull();
      expect(counted.statements - before).toBe(1);
      await held.release();
      // The refused try drew no token: the next grant gets the very next one.
      const next = await other.lock(name).acquire();
      expect(next.fencingToken).toBe(held.fencingToken + 1n);
      await next.release();
    }
  });
});

describe('sessions', () => {
  it('refuses a second hold of a key from the same coordinator (no re-entrant stacking)', async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    const first = await coord.lock('mine').acquire();
    expect(await coord.lock('mine').tryAcquire()).toBeNull();
    await expect(coord.lock('mine').acquire({ waitMs: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    // PostgreSQL would have counted a second hold on the same session; there is exactly one.
    const pid = await holderPid(raw, prefix, 'mine');
    expect(pid).toBeDefined();
    const second = coord.lock('mine').acquire({ waitMs: 10_000 });
    await first.release();
    const granted = await within(second, 5_000, 'the local waiter getting the lock');
    expect(granted.fencingToken).toBeGreaterThan(first.fencingToken);
    await granted.release();
    expect(await holderPid(raw, prefix, 'mine')).toBeUndefined();
  });

  it('holds many locks at once on one connection without exhausting a small pool', async () => {
    const app = freshAppName();
    const coord = await open(withAppName(server.url, app), { prefix: freshPrefix(), poolSize: 2 });
    const raw = await rawClient(server.url);
    const handles = await Promise.all(
      Array.from({ length: 200 }, (_, i) => coord.lock(`many-${i}`).acquire()),
    );
    expect(new Set(handles.map((h) => h.fencingToken)).size).toBe(200);
    expect(await connectionsOf(raw, app)).toBeLessThanOrEqual(2);
    // The pool still has room for counters while the locks are held.
    expect(await coord.counter('beside-the-locks').increment()).toBe(1);
    expect(handles.every((h) => !h.signal.aborted)).toBe(true);
    await Promise.all(handles.map((h) => h.release()));
    const remaining = new Set((await advisoryLocks(raw)).map((r) => `${r.classid}/${r.objid}`));
    const ours = Array.from({ length: 200 }, (_, i) => identityOf(coord.prefix, `many-${i}`));
    expect(ours.filter((id) => remaining.has(`${id.classid}/${id.objid}`))).toEqual([]);
  });

  it('pins at most 1 + maxWaitingSessions connections however many wait; the others back off and still get in', async () => {
    const prefix = freshPrefix();
    const app = freshAppName();
    const holder = await open(server.url, { prefix });
    const waiters = await open(withAppName(server.url, app), { prefix, maxWaitingSessions: 2 });
    const raw = await rawClient(server.url);
    const names = Array.from({ length: 6 }, (_, i) => `bounded-${i}`);
    const held = await Promise.all(names.map((n) => holder.lock(n).acquire()));
    const waits = names.map((n) => waiters.lock(n).acquire({ waitMs: 20_000 }));
    await eventually(async () => (await waitingCount(raw)) === 2, 5_000, 'two waits in the server queue');
    expect(await connectionsOf(raw, app)).toBeLessThanOrEqual(3);
    await Promise.all(held.map((h) => h.release()));
    const granted = await within(Promise.all(waits), 15_000, 'every waiter getting its lock');
    expect(await connectionsOf(raw, app)).toBeLessThanOrEqual(3);
    for (const [i, g] of granted.entries()) expect(g.fencingToken).toBeGreaterThan(held[i]!.fencingToken);
    await Promise.all(granted.map((g) => g.release()));
  });

  it('a pool with no connection to spare for waiting still gets waiters their lock (by backoff), never stalls them', async () => {
    const prefix = freshPrefix();
    const holder = await open(server.url, { prefix });
    const counted = countingPool(server.url, 1); // the primary takes the only connection
    const waiter = overPool(counted.pool, { prefix });
    const held = await holder.lock('tiny-pool').acquire();
    const since = performance.now();
    const wait = waiter.lock('tiny-pool').acquire({ waitMs: 20_000 });
    setTimeout(() => void held.release(), 600);
    const granted = await within(wait, 5_000, 'the waiter getting the lock');
    expect(performance.now() - since).toBeLessThan(4_000);
    expect(granted.fencingToken).toBeGreaterThan(held.fencingToken);
    expect(counted.pool.totalCount).toBe(1);
    await granted.release();
    // And a lock call with the pool fully taken by someone else fails in bounded time.
    const other = countingPool(server.url, 1);
    const busy = await other.pool.connect();
    try {
      const starved = overPool(other.pool, { prefix, commandTimeoutMs: 300 });
      const error = await within(
        starved
          .lock('tiny-pool')
          .tryAcquire()
          .catch((e: unknown) => e),
        3_000,
        'the refusal',
      );
      expect(error).toBeInstanceOf(BackendUnavailableError);
      // Every connection in use: the pool is the bottleneck, not the server.
      expect((error as Error).message).toMatch(/no connection to spare within 300 ms/);
    } finally {
      busy.release();
    }
  });

  it('local waiters for one key share one waiting connection and are served in order', async () => {
    const prefix = freshPrefix();
    const app = freshAppName();
    const holder = await open(server.url, { prefix });
    const local = await open(withAppName(server.url, app), { prefix });
    const raw = await rawClient(server.url);
    const held = await holder.lock('shared').acquire();
    const order: number[] = [];
    const waits = Array.from({ length: 5 }, (_, i) =>
      local
        .lock('shared')
        .acquire({ waitMs: 20_000 })
        .then(async (h) => {
          order.push(i);
          await h.release();
          return h.fencingToken;
        }),
    );
    await eventually(async () => (await waitingCount(raw)) === 1, 5_000, 'one wait in the server queue');
    expect(await connectionsOf(raw, app)).toBe(2); // the primary and one waiting session
    await held.release();
    const tokens = await within(Promise.all(waits), 15_000, 'the local waiters');
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(tokens[0]).toBeGreaterThan(held.fencingToken);
    expect(tokens).toEqual([...tokens].sort((a, b) => (a < b ? -1 : 1)));
    expect(new Set(tokens).size).toBe(5);
  });

  it('grants waiters from different clients in the order they queued (FIFO)', async () => {
    const prefix = freshPrefix();
    const holder = await open(server.url, { prefix });
    const clients = await Promise.all(Array.from({ length: 4 }, () => open(server.url, { prefix })));
    const raw = await rawClient(server.url);
    const held = await holder.lock('queue').acquire();
    const order: number[] = [];
    const waits: Promise<void>[] = [];
    for (const [i, client] of clients.entries()) {
      waits.push(
        client
          .lock('queue')
          .acquire({ waitMs: 20_000 })
          .then(async (h) => {
            order.push(i);
            await h.release();
          }),
      );
      await eventually(async () => (await waitingCount(raw)) === i + 1, 5_000, `waiter ${i} queued`);
    }
    // A newcomer's try cannot barge past the queue.
    await held.release();
    await within(Promise.all(waits), 15_000, 'every queued waiter');
    expect(order).toEqual([0, 1, 2, 3]);
  });
});

describe('inspect', () => {
  it("names the holder's backend and counts the waiters, as pg_locks shows them", async () => {
    const prefix = freshPrefix();
    const [holder, waiter, onlooker] = [
      await open(server.url, { prefix }),
      await open(server.url, { prefix }),
      await open(server.url, { prefix }),
    ];
    const raw = await rawClient(server.url);
    expect(await onlooker.inspect('looked-at')).toEqual({ name: 'looked-at', holders: [], waiting: 0 });
    const held = await holder.lock('looked-at').acquire();
    const { classid, objid } = identityOf(prefix, 'looked-at');
    const pids = await raw.query(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid`,
      [classid, objid],
    );
    const waiting = waiter.lock('looked-at').acquire({ waitMs: 20_000 });
    await eventually(
      async () => (await onlooker.inspect('looked-at')).waiting === 1,
      5_000,
      'the waiter counted',
    );
    expect((await onlooker.inspect('looked-at')).holders).toEqual([{ owner: `pid ${pids.rows[0].pid}` }]);
    // Only that key's rows count.
    expect((await onlooker.inspect('looked-at/other')).holders).toEqual([]);
    await held.release();
    const next = await within(waiting, 10_000, 'the waiter');
    const after = await onlooker.inspect('looked-at');
    expect(after.holders).toHaveLength(1);
    expect(after.holders[0]?.owner).not.toBe(`pid ${pids.rows[0].pid}`);
    expect(after.waiting).toBe(0);
    await next.release();
  });
});

describe('aborts and timeouts', () => {
  it('an aborted wait leaves nothing queued or held, and its connection goes back to the pool', async () => {
    const prefix = freshPrefix();
    const holder = await open(server.url, { prefix });
    const counted = countingPool(server.url, 3);
    const waiter = overPool(counted.pool, { prefix });
    const raw = await rawClient(server.url);
    const held = await holder.lock('abort').acquire();
    const controller = new AbortController();
    const wait = waiter.lock('abort').acquire({ signal: controller.signal });
    await eventually(async () => (await waitingCount(raw)) === 1, 5_000, 'the wait in the server queue');
    const reason = new Error('changed my mind');
    controller.abort(reason);
    await expect(wait).rejects.toBe(reason);
    expect(await waitingCount(raw)).toBe(0);
    expect(counted.pool.totalCount - counted.pool.idleCount).toBe(1); // only the primary stays pinned
    await held.release();
    // Nothing of the aborted wait holds it: a third client gets it at once.
    const third = await open(server.url, { prefix });
    expect(await third.lock('abort').tryAcquire()).not.toBeNull();
  });

  it('an abort at any moment of a wait — even before the waiting statement reached the server — rejects promptly', async () => {
    const prefix = freshPrefix();
    const holder = await open(server.url, { prefix });
    const waiter = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    const held = await holder.lock('early-abort').acquire();
    for (let round = 0; round < 30; round++) {
      const controller = new AbortController();
      const reason = new Error(`abort ${round}`);
      const wait = waiter.lock('early-abort').acquire({ signal: controller.signal });
      const afterMs = round % 10;
      if (afterMs === 0) queueMicrotask(() => controller.abort(reason));
      else setTimeout(() => controller.abort(reason), afterMs);
      await expect(within(wait, 3_000, `round ${round}: the aborted wait settling`)).rejects.toBe(reason);
    }
    expect(await waitingCount(raw)).toBe(0);
    await held.release();
  });

  it('a grant that races the cancel is given back, never left held (DistributedLock #147)', async () => {
    const prefix = freshPrefix();
    const holder = await open(server.url, { prefix });
    const waiter = await open(server.url, { prefix });
    const checker = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    for (let round = 0; round < 25; round++) {
      const held = await holder.lock('race').acquire();
      const controller = new AbortController();
      const wait = waiter
        .lock('race')
        .acquire({ signal: controller.signal })
        .then(
          (h) => h,
          () => null,
        );
      await eventually(async () => (await waitingCount(raw)) === 1, 5_000, 'the wait in the server queue');
      // Release and abort in the same tick: the grant and the cancel cross on the wire.
      const released = held.release();
      controller.abort(new Error('abort'));
      await released;
      const outcome = await wait;
      // Either outcome is fine (granted before the cancel, or cancelled); what matters is that
      // no round leaves the lock held or a wait queued.
      if (outcome) await outcome.release();
      const free = await checker.lock('race').tryAcquire();
      expect(free, `round ${round}: the lock must be free after the wait ended`).not.toBeNull();
      await free?.release();
      expect(await waitingCount(raw)).toBe(0);
    }
  });
});

describe('loss', () => {
  it("pg_terminate_backend of the holder's connection aborts its signal and frees the lock", async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const other = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    const held = await coord.lock('terminated', { ttlMs: 30_000 }).acquire();
    const pid = await holderPid(raw, prefix, 'terminated');
    expect(pid).toBeDefined();
    const since = performance.now();
    await raw.query('SELECT pg_terminate_backend($1)', [pid]);
    const took = await within(abortedAfter(held.signal, since), 2_000, 'the loss signal');
    expect(took).toBeLessThan(2_000);
    expect(held.signal.reason).toBeInstanceOf(LockLostError);
    expect((held.signal.reason as LockLostError).reason).toBe('session-lost');
    const next = await other.lock('terminated').tryAcquire();
    expect(next?.fencingToken).toBeGreaterThan(held.fencingToken);
    expect(await held.release()).toBe(false);
    // The coordinator opens a new session for later locks.
    await next?.release();
    const again = await coord.lock('terminated').acquire({ waitMs: 5_000 });
    expect(again.fencingToken).toBeGreaterThan(next!.fencingToken);
    await again.release();
  });

  it('a health check that finds the lock gone from pg_locks reports the loss (and only for that lock)', async () => {
    const counted = countingPool(server.url);
    const coord = overPool(counted.pool, { prefix: freshPrefix() });
    // Same TTL: their checks run in the same tick and share one query.
    const held = await coord.lock('vanished', { ttlMs: 1_500 }).acquire();
    const stays = await coord.lock('stays', { ttlMs: 1_500 }).acquire();
    const raw = await rawClient(server.url);
    const holder = await holderPid(raw, coord.prefix, 'vanished');
    const pinned = counted.clients.find((c) => (c as unknown as { processID: number }).processID === holder);
    expect(pinned).toBeDefined();
    // Drop one lock behind lockstep's back, on the very connection that holds it.
    await (pinned as pg.Client).query('SELECT pg_advisory_unlock($1::bigint)', [
      advisoryKeyOf('vanished', coord.prefix).toString(),
    ]);
    const took = await within(abortedAfter(held.signal, performance.now()), 3_000, 'the loss signal');
    expect(took).toBeLessThan(1_500); // the check runs at about ttl/3
    expect((held.signal.reason as LockLostError).reason).toBe('stolen');
    expect(await held.isHeld()).toBe(false);
    expect(stays.signal.aborted).toBe(false);
    expect(await stays.isHeld()).toBe(true);
    await stays.release();
  });

  it("idle_session_timeout ends a silent holder's session after its TTL (how a paused holder loses its locks)", async (context) => {
    const raw = await rawClient(server.url);
    const version = Number((await raw.query('SHOW server_version_num')).rows[0].server_version_num);
    if (version < 140_000) context.skip(`idle_session_timeout needs PostgreSQL 14; the server is ${version}`);
    const logPath = server.handle.logPath;
    if (logPath === undefined) context.skip('the server log is not ours to read (env server)');
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const held = await coord.lock('silent', { ttlMs: 1_000 }).acquire();
    const pid = await holderPid(raw, prefix, 'silent');
    // Freeze this process's event loop past the TTL: no renewal, no keepalive — as SIGSTOP would.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_800);
    await within(abortedAfter(held.signal, performance.now()), 3_000, 'the loss signal');
    const ended = await raw.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid]);
    expect(ended.rows[0].n).toBe(0);
    // Whichever the client noticed first (its expiry watchdog or the FATAL 57P05), the server
    // ended the session on its own while this process was frozen.
    const log = await readFile(logPath!, 'utf8');
    expect(log).toMatch(
      new RegExp(`\\[${pid}\\] FATAL:  terminating connection due to idle-session timeout`),
    );
    const other = await open(server.url, { prefix });
    const next = await other.lock('silent').tryAcquire();
    expect(next?.fencingToken).toBeGreaterThan(held.fencingToken);
    await next?.release();
  });

  it('keeps the session idle timeout at the longest TTL held, and restores it once the session is empty', async () => {
    const counted = countingPool(server.url);
    const coord = overPool(counted.pool, { prefix: freshPrefix() });
    const raw = await rawClient(server.url);
    const short = await coord.lock('short', { ttlMs: 1_200 }).acquire();
    const pid = await holderPid(raw, coord.prefix, 'short');
    const pinned = counted.clients.find((c) => (c as unknown as { processID: number }).processID === pid)!;
    const setting = async () =>
      (await pinned.query('SHOW idle_session_timeout')).rows[0].idle_session_timeout;
    expect(await setting()).toBe('1200ms');
    const long = await coord.lock('long', { ttlMs: 3_000 }).acquire();
    expect(await setting()).toBe('3s');
    await long.release();
    expect(await setting()).toBe('3s'); // never lowered while a lock is held
    await short.release();
    // Empty now: the original setting comes back within a third of the timeout.
    await eventually(async () => (await setting()) === '0', 3_000, 'the original idle timeout restored');
  });

  it('a stall longer than one TTL loses that lock (given back to others) but not the longer ones on the session', async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const other = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    const short = await coord.lock('stall-short', { ttlMs: 1_000 }).acquire();
    const long = await coord.lock('stall-long', { ttlMs: 6_000 }).acquire();
    const pid = await holderPid(raw, prefix, 'stall-long');
    // Freeze the event loop past the short TTL but well inside the long one.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_600);
    await within(abortedAfter(short.signal, performance.now()), 2_000, 'the short lock reported lost');
    expect((short.signal.reason as LockLostError).reason).toBe('expired');
    const taken = await within(
      other.lock('stall-short').acquire({ waitMs: 5_000 }),
      6_000,
      'the short lock given back',
    );
    expect(taken.fencingToken).toBeGreaterThan(short.fencingToken);
    await taken.release();
    expect(long.signal.aborted).toBe(false);
    expect(await long.isHeld()).toBe(true);
    expect(await holderPid(raw, prefix, 'stall-long')).toBe(pid);
    await long.release();
  });

  it('refuses connections whose backend pid differs from the announced one (a pooler in between)', async () => {
    // Simulated: no PgBouncer here. A client that reports another BackendKeyData pid is exactly
    // what a pooler looks like to the probe.
    class PooledLookingClient extends pg.Client {
      // biome-ignore lint/suspicious/noExplicitAny: pg-pool calls connect(callback)
      override connect(callback?: any): any {
        // biome-ignore lint/suspicious/noExplicitAny: see above
        return (super.connect as any)((error: Error | null) => {
          (this as unknown as { processID: number }).processID = 1;
          callback?.(error, this);
        });
      }
    }
    const pool = new pg.Pool({
      connectionString: server.url,
      Client: PooledLookingClient as unknown as typeof pg.Client,
    });
    pool.on('error', () => {});
    try {
      const coord = overPool(pool, { prefix: freshPrefix() });
      const error = await coord
        .lock('pooled')
        .acquire()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedError);
      expect(String((error as Error).message)).toMatch(/PgBouncer/);
      const counter = coord.counter('still-fine');
      expect(await counter.increment()).toBe(1);
    } finally {
      await pool.end();
    }
  });
});

describe('server restart', () => {
  const restartable = useServer('postgres');

  it('aborts every handle, and later acquires work with larger tokens', async (context) => {
    if (restartable.handle.source === 'env')
      context.skip('the server comes from LOCKSTEP_TEST_POSTGRES_URL: not ours to restart');
    const url = restartable.url;
    const prefix = freshPrefix();
    const a = await open(url, { prefix });
    const b = await open(url, { prefix });
    const onPrimary = await a.lock('restart-1', { ttlMs: 30_000 }).acquire();
    const blocker = await a.lock('restart-2', { ttlMs: 30_000 }).acquire();
    const waiting = b
      .lock('restart-2', { ttlMs: 30_000 })
      .acquire({ waitMs: 60_000 })
      .then(
        () => 'granted',
        (error: unknown) => error,
      );
    const raw = await rawClient(url);
    await eventually(async () => (await waitingCount(raw)) === 1, 5_000, 'the wait in the server queue');
    await raw.end();
    const since = performance.now();
    await restartable.handle.restart();
    await within(abortedAfter(onPrimary.signal, since), 10_000, 'loss of the lock on the primary');
    await within(abortedAfter(blocker.signal, since), 10_000, 'loss of the second lock');
    expect(await waiting).toBeInstanceOf(Error);
    for (const h of [onPrimary, blocker]) {
      expect(h.signal.reason).toBeInstanceOf(LockLostError);
      expect(causes(h.signal.reason).length).toBeGreaterThan(1);
    }
    const again = await a.lock('restart-1').acquire({ waitMs: 10_000 });
    // The sequence survived the restart: tokens keep increasing.
    expect(again.fencingToken).toBeGreaterThan(blocker.fencingToken);
    const fromB = await b.lock('restart-2').acquire({ waitMs: 10_000 });
    expect(fromB.fencingToken).toBeGreaterThan(blocker.fencingToken);
    await again.release();
    await fromB.release();
  });
});
