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
 * callers of one process "hold" one lock.
 * @module
 */
import {
  type AcquireRequest,
  Backoff,
  backendFailure,
  type LeaseGrant,
  type LockDriver,
  sleep,
} from '@lockstep/core/driver';
import { isSessionFatal } from './errors.js';
import { grantFor } from './grant.js';
import { type LockPlacement, parseNative, placeLock } from './keys.js';
import type { TableGuard } from './schema.js';
import type { HeldLock, LockConnection } from './session.js';
import type { SessionSet } from './sessions.js';
import { Turnstile } from './turnstile.js';

/** The {@link LockDriver} over a coordinator's connections. */
export class PostgresLocks implements LockDriver {
  readonly #sessions: SessionSet;
  readonly #tables: TableGuard;
  readonly #turnstile = new Turnstile();
  // Placements whose name this coordinator has seen recorded in lockstep_locks: later grants
  // leave the registry out of the statement. (Weak: placements leave with the bounded cache.)
  readonly #registered = new WeakSet<LockPlacement>();

  constructor(sessions: SessionSet, tables: TableGuard) {
    this.#sessions = sessions;
    this.#tables = tables;
  }

  validateNative(native: unknown): void {
    parseNative(native as never);
  }

  tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
    return this.#tryOnPrimary(request, placeLock(request.lock));
  }

  acquire(request: AcquireRequest, signal: AbortSignal): Promise<LeaseGrant> {
    const placement = placeLock(request.lock);
    return this.#turnstile.run(placement.id, signal, () => this.#acquireInTurn(request, placement, signal));
  }

  async #acquireInTurn(
    request: AcquireRequest,
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

  async #tryOnPrimary(request: AcquireRequest, placement: LockPlacement): Promise<LeaseGrant | null> {
    // The primary's session for this TTL, synchronously when live: no extra turn on the hot path.
    const current = this.#sessions.session(request.ttlMs);
    const session = current instanceof Promise ? await current : current;
    const connection = session.connection;
    const lock = connection.claim(request.lock.name, placement, request.ttlMs, session);
    if (!lock) return null;
    const sql = this.#sessions.sql;
    // The claim is on the connection already: its TTL counts in the setting.
    const setting = connection.timeoutFor();
    const stmt = sql.tryLock(placement.advisory, this.#registered.has(placement) ? null : placement, setting);
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
      this.#registered.add(placement);
      return grantFor(lock, BigInt(row.token), sql);
    } catch (error) {
      await this.#undo(connection, placement, error);
      connection.forget(lock);
      throw backendFailure('postgres', 'acquiring a lock', error);
    }
  }

  async #waitInQueue(
    connection: LockConnection,
    request: AcquireRequest,
    placement: LockPlacement,
    signal: AbortSignal,
  ): Promise<LeaseGrant> {
    const lock = connection.claim(request.lock.name, placement, request.ttlMs);
    if (!lock) {
      // A fresh waiting connection holds nothing: only one that died at once gets here.
      this.#sessions.finishWaiting(connection);
      throw connection.ended;
    }
    if (signal.aborted) return this.#abandonWait(lock, signal.reason);
    const sql = this.#sessions.sql;
    const sentAt = performance.now();
    const { advisory, namespace, name } = placement;
    const stmt = sql.blockingLock(advisory, namespace, name, String(request.ttlMs));
    const waiting = this.#tables.run(() => connection.run(stmt, false));
    let cancelling: Promise<void> | undefined;
    const onAbort = () => {
      cancelling = this.#cancelUntilSettled(connection, waiting);
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
    this.#registered.add(placement);
    return grantFor(lock, BigInt(row.token), sql);
  }

  /**
   * Cancels the waiting statement until it has settled. One cancel is not always enough: sent
   * while the statement is still on its way to the backend, it meets an idle backend and is
   * ignored — and the statement would wait for the lock forever. Each cancel completes (the
   * backend was signalled) before the next is sent or the connection is reused.
   */
  async #cancelUntilSettled(connection: LockConnection, waiting: Promise<unknown>): Promise<void> {
    let settled = false;
    const done = waiting.then(
      () => (settled = true),
      () => (settled = true),
    );
    const backoff = new Backoff(10, 200);
    while (!settled && !connection.ended) {
      await this.#sessions.cancel(connection.pid);
      await Promise.race([done, sleep(backoff.next())]);
    }
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
  async #undo(connection: LockConnection, placement: LockPlacement, error: unknown): Promise<void> {
    if (connection.ended || isSessionFatal(error)) return;
    await connection
      .run(this.#sessions.sql.unlock(placement.advisory))
      .catch((undoError: unknown) =>
        connection.die(backendFailure('postgres', 'undoing a failed lock attempt', undoError)),
      );
  }
}
