/**
 * The lock algorithm, top to bottom:
 *
 * 1. Try on the primary session (after any earlier local caller for the same key): `pg_try_advisory_lock` + fencing bump in ONE statement (one
 *    round trip). Granted → done; the lock stays on the primary.
 * 2. Held elsewhere → wait in PostgreSQL's own FIFO lock queue: a blocking `pg_advisory_lock`
 *    + bump on a waiting session. The release wakes us — no polling. Local callers for one key
 *    line up first (turnstile, in arrival order), so only one of them waits in the server queue.
 * 3. Abort or timeout → `pg_cancel_backend` of the waiting session; whatever the wait's outcome
 *    (cancelled, or granted in a race with the cancel — DistributedLock #147), the session then
 *    drops every advisory lock (`pg_advisory_unlock_all`, safe: it holds nothing else) before we
 *    reject, so nothing is left held or queued.
 * 4. All waiting slots taken (or the pool has no connection to spare) → re-try on the primary
 *    with capped, jittered backoff until a slot frees (the only polling, and only past
 *    `maxWaitingSessions` concurrent waits).
 *
 * A key this coordinator already holds on the primary is refused locally: PostgreSQL would
 * happily stack a second hold on the same session, which is how the `advisory-lock` package
 * lets two callers of one process "hold" one lock.
 * @module
 */
import { type AcquireRequest, jitter, type LeaseGrant, type LockDriver, sleep } from '@lockstep/core';
import { isSessionFatal, toLockstepError } from './errors.js';
import { grantFor } from './grant.js';
import { type LockPlacement, parseNative, placeLock } from './keys.js';
import type { TableGuard } from './schema.js';
import type { LockSession } from './session.js';
import type { SessionSet } from './sessions.js';
import { Turnstile } from './turnstile.js';

const BACKOFF_START_MS = 50;
const BACKOFF_MAX_MS = 1_000;
const CANCEL_RETRY_START_MS = 10;
const CANCEL_RETRY_MAX_MS = 200;

/** The {@link LockDriver} over a coordinator's sessions. */
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

  async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
    return this.#tryOnPrimary(request, placeLock(request.lock));
  }

  async acquire(request: AcquireRequest, signal: AbortSignal): Promise<LeaseGrant> {
    const placement = placeLock(request.lock);
    // Local callers line up before their first attempt too, so they are served in arrival
    // order (an empty line costs nothing: no I/O, one microtask).
    return this.#turnstile.run(placement.id, signal, () => this.#acquireInTurn(request, placement, signal));
  }

  async #acquireInTurn(
    request: AcquireRequest,
    placement: LockPlacement,
    signal: AbortSignal,
  ): Promise<LeaseGrant> {
    const first = await this.#tryOnPrimary(request, placement);
    if (first) return this.#unlessAborted(first, signal);
    let backoff = BACKOFF_START_MS;
    for (;;) {
      signal.throwIfAborted();
      if (this.#sessions.reserveWaitingSlot()) {
        const session = await this.#sessions.openWaiting(signal);
        if (session) return this.#waitInQueue(session, request, placement, signal);
      }
      const grant = await this.#tryOnPrimary(request, placement);
      if (grant) return this.#unlessAborted(grant, signal);
      await this.#sessions.slotFreed(jitter(backoff), signal);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  async #tryOnPrimary(request: AcquireRequest, placement: LockPlacement): Promise<LeaseGrant | null> {
    const session = await this.#sessions.primary();
    const lock = session.claim(request.ownerId, placement, request.ttlMs);
    if (!lock) return null;
    const sql = this.#sessions.sql;
    // The claim is on the session already: its TTL counts in the setting.
    const setting = session.timeoutFor();
    const sentAt = performance.now();
    const register = this.#registered.has(placement) ? null : placement;
    const stmt = sql.tryLock(placement.advisory, register, setting);
    try {
      // Not through TableGuard.run: this is the hot path, and a closure and a promise less count.
      const result = await session
        .run(stmt)
        .catch((error: unknown) => this.#tables.recover(error, () => session.run(stmt)));
      const row = result.rows[0] as { token: string; pid: number } | undefined;
      if (!row) {
        session.forget(lock);
        return null;
      }
      session.checkPid(row.pid);
      session.applied(setting);
      session.hold(lock);
      this.#registered.add(placement);
      return grantFor(session, lock, BigInt(row.token), sentAt + request.ttlMs, this.#grantContext());
    } catch (error) {
      await this.#undo(session, lock.placement, error);
      session.forget(lock);
      throw toLockstepError(error, 'acquiring a lock');
    }
  }

  async #waitInQueue(
    session: LockSession,
    request: AcquireRequest,
    placement: LockPlacement,
    signal: AbortSignal,
  ): Promise<LeaseGrant> {
    const lock = session.claim(request.ownerId, placement, request.ttlMs);
    if (!lock) {
      // A fresh waiting session holds nothing; only a session that died at once gets here.
      this.#sessions.finishWaiting(session);
      throw session.died.reason;
    }
    if (signal.aborted) {
      await this.#abandonWait(session, lock);
      throw signal.reason;
    }
    const sql = this.#sessions.sql;
    const sentAt = performance.now();
    const waiting = this.#tables.run(() =>
      session.run(
        sql.blockingLock(placement.advisory, placement.namespace, placement.name, String(request.ttlMs)),
        {
          timeout: false,
        },
      ),
    );
    let cancelling: Promise<void> | undefined;
    const onAbort = () => {
      cancelling = this.#cancelUntilSettled(session, waiting);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let row: { token: string; pid: number; waited_ms: number };
    try {
      row = (await waiting).rows[0];
      session.checkPid(row.pid);
    } catch (error) {
      signal.removeEventListener('abort', onAbort);
      await cancelling;
      await this.#abandonWait(session, lock);
      throw signal.aborted ? signal.reason : toLockstepError(error, 'waiting for a lock');
    }
    signal.removeEventListener('abort', onAbort);
    if (signal.aborted) {
      // Granted while the cancel was on its way: give it back before reporting the abort.
      await cancelling;
      await this.#abandonWait(session, lock);
      throw signal.reason;
    }
    session.applied(String(request.ttlMs));
    session.hold(lock);
    this.#registered.add(placement);
    // The server measured how long the statement waited before the grant; the session's idle
    // clock cannot have started earlier than that, so the lease is ours until at least then + ttl.
    const grantedAt = sentAt + Math.max(0, row.waited_ms);
    return grantFor(session, lock, BigInt(row.token), grantedAt + request.ttlMs, this.#grantContext());
  }

  /**
   * Cancels the waiting statement until it has settled. One cancel is not always enough: sent
   * while the statement is still on its way to the backend, it meets an idle backend and is
   * ignored — and the statement would then wait for the lock forever. Each cancel completes
   * (the backend was signalled) before the next is sent or the session is reused.
   */
  async #cancelUntilSettled(session: LockSession, waiting: Promise<unknown>): Promise<void> {
    let settled = false;
    const done = waiting.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    let delay = CANCEL_RETRY_START_MS;
    while (!settled && !session.dead) {
      await this.#sessions.cancel(session.pid);
      await Promise.race([done, sleep(delay)]);
      delay = Math.min(delay * 2, CANCEL_RETRY_MAX_MS);
    }
  }

  /** Ends a wait that will not become a grant: drops any lock the session got, returns it. */
  async #abandonWait(
    session: LockSession,
    lock: NonNullable<ReturnType<LockSession['claim']>>,
  ): Promise<void> {
    session.forget(lock);
    // giveBack() runs pg_advisory_unlock_all first (or destroys the session if it cannot).
    await session.giveBack();
  }

  /**
   * After a failed try-lock statement the lock may still have been taken (a session advisory
   * lock survives the statement's rollback). The claim keeps other local callers off this key
   * meanwhile, so unlocking it here can only undo our own attempt.
   */
  async #undo(session: LockSession, placement: LockPlacement, error: unknown): Promise<void> {
    if (session.dead || isSessionFatal(error)) return;
    try {
      await session.run(this.#sessions.sql.unlock(placement.advisory));
    } catch (undoError) {
      session.die(toLockstepError(undoError, 'undoing a failed lock attempt'));
    }
  }

  async #unlessAborted(grant: LeaseGrant, signal: AbortSignal): Promise<LeaseGrant> {
    if (!signal.aborted) return grant;
    await grant.release().catch(() => {});
    throw signal.reason;
  }

  #grantContext() {
    return {
      sql: this.#sessions.sql,
      onEmpty: (session: LockSession) => this.#sessions.finishWaiting(session),
    };
  }
}
