/**
 * The lock algorithm, top to bottom:
 *
 * 1. Try on the primary connection (after any earlier local caller for the same key):
 *    `pg_try_advisory_lock` + fencing bump in ONE statement. Granted → the lock stays there.
 * 2. Held elsewhere → wait in PostgreSQL's lock queue: a blocking `pg_advisory_lock` + bump on
 *    a waiting connection, woken by the release — no polling. Local callers for one key line up
 *    first (turnstile, in arrival order), so only one of them waits in the server's queue.
 * 3. Abort or timeout → `pg_cancel_backend` of the waiting connection; whatever the wait's
 *    outcome (cancelled, or granted in a race with the cancel — DistributedLock #147), the
 *    connection then drops every advisory lock (`pg_advisory_unlock_all`: it holds nothing
 *    else) before we reject, so nothing is left held or queued.
 * 4. Every waiting slot taken (or no pool connection to spare) → re-try on the primary with
 *    capped, jittered backoff until a slot frees: the only polling, past `maxWaitingSessions`.
 *
 * A key this coordinator already holds on the primary is refused locally: PostgreSQL would
 * stack a second hold on one connection, which is how the `advisory-lock` package lets two
 * callers of one process "hold" one lock. (A second local reader instead shares the primary's
 * shared hold, once the server has said that no writer holds or waits: see `#join`.)
 *
 * The same algorithm serves every primitive that is one advisory lock — locks, the two sides
 * of a read-write lock, leaderships — through an {@link AdvisoryRecipe}: the key, the mode, and
 * the statements that take it (a leadership's also writes the leader's row).
 * @module
 */

import type { HolderInfo } from '@lockstep/core';
import {
  type AcquireRequest,
  Backoff,
  backendFailure,
  type LeaseGrant,
  type LockDriver,
  type LockRef,
  mapFailures,
  type ReadWriteRef,
} from '@lockstep/core/driver';
import type pg from 'pg';
import { cancelUntilSettled } from './cancel.js';
import { isSessionFatal } from './errors.js';
import { grantFor } from './grant.js';
import { type LockPlacement, parseNative, pgLocksIdentity, placeLock } from './keys.js';
import type { TableGuard } from './schema.js';
import type { HeldLock, LockConnection } from './session.js';
import type { SessionSet } from './sessions.js';
import type { AdvisoryMode, LockSql, Registration, Statement } from './sql.js';
import { Turnstile } from './turnstile.js';

/** What differs between the primitives that are one advisory lock. */
export interface AdvisoryRecipe<R extends LockRef> {
  /** The key of `ref` and its identity on a connection. */
  place(ref: R): LockPlacement;
  mode(ref: R): AdvisoryMode;
  /** Whether a grant records the name beside the key (locks: hash collisions show there). */
  readonly registers: boolean;
  /** One attempt that never waits: a row with `token` (text) and `pid` when taken, none when held. */
  tryStatement(
    sql: LockSql,
    request: AcquireRequest<R>,
    placement: LockPlacement,
    register: Registration | null,
    idleTimeout: string | null,
  ): Statement;
  /** The wait in the server's queue: `token`, `pid`, `waited_ms` once granted. */
  waitStatement(
    sql: LockSql,
    request: AcquireRequest<R>,
    placement: LockPlacement,
    register: Registration | null,
  ): Statement;
  /** The grant of a lock just taken (which may set the lock's release statement). */
  grant(lock: HeldLock, fencingToken: bigint, sql: LockSql, request: AcquireRequest<R>): LeaseGrant;
}

/** Locks: exclusive, their names recorded beside their keys. */
export const LOCK_RECIPE: AdvisoryRecipe<LockRef> = {
  place: (ref) => placeLock(ref),
  mode: () => 'exclusive',
  registers: true,
  tryStatement: (sql, _request, placement, register, idleTimeout) =>
    sql.tryLock(placement.advisory, register, idleTimeout),
  waitStatement: (sql, request, placement, register) =>
    sql.blockingLock(placement.advisory, register, String(request.ttlMs)),
  grant: (lock, token, sql) => grantFor(lock, token, sql),
};

const modeOf = (ref: ReadWriteRef): AdvisoryMode => (ref.mode === 'read' ? 'shared' : 'exclusive');

/**
 * Read-write locks: PostgreSQL's own shared and exclusive advisory locks on one key. A writer
 * waiting in the server's queue holds back every later reader, the try-locks included (a
 * request that conflicts with a waiter's waits or is refused).
 */
export const READ_WRITE_RECIPE: AdvisoryRecipe<ReadWriteRef> = {
  place: (ref) => placeLock(ref, 'rw'),
  mode: modeOf,
  registers: false,
  tryStatement: (sql, request, placement, _register, idleTimeout) =>
    sql.tryLock(placement.advisory, null, idleTimeout, modeOf(request.lock)),
  waitStatement: (sql, request, placement) =>
    sql.blockingLock(placement.advisory, null, String(request.ttlMs), modeOf(request.lock)),
  grant: (lock, token, sql) => grantFor(lock, token, sql),
};

/** The holders and waiters of one advisory key in this database. Columns: `pid`, `granted`. */
const INSPECT_LOCK = {
  name: 'lockstep_inspect',
  text: `SELECT pid, granted FROM pg_locks
WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid AND objsubid = $3::int2
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY granted DESC, pid`,
};

/** The {@link LockDriver} of one advisory primitive over a coordinator's connections. */
export class PostgresLocks<R extends LockRef = LockRef> implements LockDriver<R> {
  readonly #sessions: SessionSet;
  readonly #tables: TableGuard;
  readonly #recipe: AdvisoryRecipe<R>;
  readonly #turnstile = new Turnstile();
  // Placements whose name this coordinator has seen recorded in lockstep_locks: later grants
  // leave the registry out of the statement. (Weak: placements leave with the bounded cache.)
  readonly #registered = new WeakSet<LockPlacement>();

  constructor(sessions: SessionSet, tables: TableGuard, recipe: AdvisoryRecipe<R>) {
    this.#sessions = sessions;
    this.#tables = tables;
    this.#recipe = recipe;
  }

  validateNative(native: unknown): void {
    parseNative(native as never);
  }

  /**
   * Who holds the key and how many wait, as the lock manager shows it: ONE read of `pg_locks`
   * through the pool. A holder is its backend (`pid <n>`); its token and lease are known only
   * to its own process (the lease is its session's, renewed by any statement it sends).
   */
  async inspect(ref: R): Promise<{ readonly holders: readonly HolderInfo[]; readonly waiting: number }> {
    const { classid, objid, objsubid } = pgLocksIdentity(this.#recipe.place(ref).advisory);
    const result = await mapFailures('postgres', 'inspecting a lock', () =>
      this.#sessions.pool.query({
        ...INSPECT_LOCK,
        values: [classid, objid, objsubid],
        query_timeout: this.#sessions.commandTimeoutMs,
      } as pg.QueryConfig),
    );
    const rows = result.rows as { pid: number; granted: boolean }[];
    return {
      holders: rows.filter((row) => row.granted).map((row) => ({ owner: `pid ${row.pid}` })),
      waiting: rows.filter((row) => !row.granted).length,
    };
  }

  tryAcquire(request: AcquireRequest<R>): Promise<LeaseGrant | null> {
    return this.#tryOnPrimary(request, this.#recipe.place(request.lock));
  }

  acquire(request: AcquireRequest<R>, signal: AbortSignal): Promise<LeaseGrant> {
    const placement = this.#recipe.place(request.lock);
    return this.#turnstile.run(placement.id, signal, () => this.#acquireInTurn(request, placement, signal));
  }

  async #acquireInTurn(
    request: AcquireRequest<R>,
    placement: LockPlacement,
    signal: AbortSignal,
  ): Promise<LeaseGrant> {
    const backoff = new Backoff(50, 1_000);
    for (let first = true; ; first = false) {
      const connection = first ? undefined : await this.#sessions.openWaiting(signal);
      if (connection) return this.#waitInQueue(connection, request, placement, signal);
      const grant = await this.#tryOnPrimary(request, placement);
      if (grant && signal.aborted) await grant.release().catch(() => {});
      signal.throwIfAborted();
      if (grant) return grant;
      if (!first) await this.#sessions.slotFreed(backoff.next(), signal);
    }
  }

  async #tryOnPrimary(request: AcquireRequest<R>, placement: LockPlacement): Promise<LeaseGrant | null> {
    // The primary's session for this TTL, synchronously when live: no extra turn on the hot path.
    const current = this.#sessions.session(request.ttlMs);
    const session = current instanceof Promise ? await current : current;
    const connection = session.connection;
    const recipe = this.#recipe;
    const mode = recipe.mode(request.lock);
    const lock = connection.claim(request.lock.name, placement, request.ttlMs, session);
    if (!lock) {
      const hold = connection.lockOn(placement.id);
      return mode === 'shared' && hold?.held && hold.mode === 'shared' ? this.#join(hold, request) : null;
    }
    lock.mode = mode;
    const sql = this.#sessions.sql;
    // The claim is on the connection already: its TTL counts in the setting.
    const setting = connection.timeoutFor();
    const register = recipe.registers && !this.#registered.has(placement) ? placement : null;
    const stmt = recipe.tryStatement(sql, request, placement, register, setting);
    try {
      // Not through TableGuard.run: this is the hot path, and a closure and a promise less count.
      const result = await connection
        .run(stmt)
        .catch((error: unknown) => this.#tables.recover(error, () => connection.run(stmt)));
      const row = result.rows[0] as { token: string } | undefined;
      if (!row) {
        connection.forget(lock);
        return null;
      }
      connection.applied(setting);
      connection.hold(lock);
      if (register) this.#registered.add(placement);
      return recipe.grant(lock, BigInt(row.token), sql, request);
    } catch (error) {
      await this.#undo(connection, lock, error);
      connection.forget(lock);
      throw backendFailure('postgres', 'acquiring a lock', error);
    }
  }

  /**
   * One more local reader on the primary's shared hold of the key. Stacking a second shared
   * lock on the one session would pass a writer waiting in the server's queue (a session's own
   * re-entry never waits), and so would counting readers locally: so another session first asks
   * the server, in the statement that draws the reader's token, whether a reader may enter now
   * — `pg_try_advisory_xact_lock_shared` is refused while a writer holds or waits.
   */
  async #join(hold: HeldLock, request: AcquireRequest<R>): Promise<LeaseGrant | null> {
    const sql = this.#sessions.sql;
    const stmt = sql.readerEntry(hold.placement.advisory);
    const pool = this.#sessions.pool;
    const timeout = this.#sessions.commandTimeoutMs;
    const result = await mapFailures('postgres', 'joining a read grant', () =>
      this.#tables.run(() => pool.query({ ...stmt, query_timeout: timeout } as pg.QueryConfig)),
    );
    const row = result.rows[0] as { token: string } | undefined;
    if (!row) return null;
    // The hold ended while the server was asked: take the key afresh.
    if (!hold.held || hold.connection.lockOn(hold.placement.id) !== hold)
      return this.#tryOnPrimary(request, hold.placement);
    hold.readers++;
    return this.#recipe.grant(hold, BigInt(row.token), sql, request);
  }

  async #waitInQueue(
    connection: LockConnection,
    request: AcquireRequest<R>,
    placement: LockPlacement,
    signal: AbortSignal,
  ): Promise<LeaseGrant> {
    const lock = connection.claim(request.lock.name, placement, request.ttlMs);
    if (!lock) {
      // A fresh waiting connection holds nothing: only one that died at once gets here.
      this.#sessions.finishWaiting(connection);
      throw connection.ended;
    }
    lock.mode = this.#recipe.mode(request.lock);
    if (signal.aborted) return this.#abandonWait(lock, signal.reason);
    const sql = this.#sessions.sql;
    const sentAt = performance.now();
    const register = this.#recipe.registers ? placement : null;
    const stmt = this.#recipe.waitStatement(sql, request, placement, register);
    const waiting = this.#tables.run(() => connection.run(stmt, false));
    let cancelling: Promise<void> | undefined;
    const onAbort = () => {
      cancelling = cancelUntilSettled(this.#sessions, connection, waiting);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let row: { token: string; waited_ms: number };
    try {
      row = (await waiting).rows[0];
    } catch (error) {
      await cancelling;
      const failure = signal.aborted
        ? signal.reason
        : backendFailure('postgres', 'waiting for a lock', error);
      return this.#abandonWait(lock, failure);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    // Granted while the cancel was on its way: given back before the abort is reported.
    if (signal.aborted) return cancelling!.then(() => this.#abandonWait(lock, signal.reason));
    connection.applied(String(request.ttlMs));
    // The server measured how long the statement waited before the grant; the connection's idle
    // clock cannot have started earlier, so the lock is ours until at least then + ttl. (A
    // waiter paused past that gets a grant already over, which core gives back.)
    connection.hold(lock, connection.session(request.ttlMs, sentAt + Math.max(0, row.waited_ms)));
    if (register) this.#registered.add(placement);
    return this.#recipe.grant(lock, BigInt(row.token), sql, request);
  }

  /** Ends a wait that will not become a grant: the reset before its connection goes back drops any lock it got. */
  async #abandonWait(lock: HeldLock, reason: unknown): Promise<never> {
    lock.connection.forget(lock);
    await lock.connection.giveBack();
    throw reason;
  }

  /**
   * After a failed try-lock statement the lock may still have been taken (a session advisory
   * lock survives the statement's rollback). The claim keeps other local callers off this key
   * meanwhile, so unlocking it here can only undo our own attempt.
   */
  async #undo(connection: LockConnection, lock: HeldLock, error: unknown): Promise<void> {
    if (connection.ended || isSessionFatal(error)) return;
    await connection
      .run(this.#sessions.sql.unlock(lock.placement.advisory, lock.mode))
      .catch((undoError: unknown) =>
        connection.die(backendFailure('postgres', 'undoing a failed lock attempt', undoError)),
      );
  }
}
