/**
 * `LockDriver` for etcd: enqueue in one transaction, wait on the predecessor's delete in core's
 * `waitInQueue` loop, re-check. Core adds everything above it (validation, timeouts, handles).
 * @module
 */
import { BackendUnavailableError, type NativeLockLocation } from '@lockstep/core';
import { type AcquireRequest, type LockDriver, type LockRef, waitInQueue } from '@lockstep/core/driver';
import { isLeaseNotFound, unavailable } from './errors.js';
import { deleteLater, EtcdGrant, type GrantContext, leaveSeat, type Seat, takeSeat } from './grant.js';
import { lockQueue, memberKeyHex, type QueueLayout, validateNativePrefix } from './keys.js';
import { type Contender, type Enqueued, enqueue, GRANTED, remove, tryEnqueue } from './queue.js';
import { QueueWaiter } from './waiter.js';

/** One acquire's seat (lease and slot) and key. */
export interface Attempt {
  readonly seat: Seat;
  readonly contender: Contender;
  readonly plan: LockPlan;
}

/** Lock operations over one coordinator's leases, watch stream and sweeper. */
export class EtcdLocks implements LockDriver {
  readonly #ctx: GrantContext;
  readonly #plans = new WeakMap<LockRef, LockPlan>();
  /** Why waiters woke up (for tests: a release must wake exactly the next waiter). */
  readonly wakes = { deleted: 0, broken: 0, timer: 0 };
  /** Waits in progress: their fallback re-checks share one budget. */
  waiting = 0;

  constructor(ctx: GrantContext) {
    this.#ctx = ctx;
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePrefix(native);
  }

  tryAcquire(request: AcquireRequest): Promise<EtcdGrant | null> {
    return this.#acquire(request, undefined);
  }

  acquire(request: AcquireRequest, signal: AbortSignal): Promise<EtcdGrant> {
    // Not async: one promise layer fewer per acquire.
    return signal.aborted ? Promise.reject(signal.reason) : this.#acquire(request, signal);
  }

  /** With `signal`, waits in the queue until granted; without, only the light try (`null` when refused). */
  #acquire(request: AcquireRequest, signal: AbortSignal): Promise<EtcdGrant>;
  #acquire(request: AcquireRequest, signal: undefined): Promise<EtcdGrant | null>;
  async #acquire(request: AcquireRequest, signal: AbortSignal | undefined): Promise<EtcdGrant | null> {
    for (let retry = 0; ; retry++) {
      const begun = this.#begin(request);
      const attempt = begun instanceof Promise ? await begun : begun;
      let enqueued: Enqueued | undefined;
      try {
        // The light try inline (not in a helper of its own): one promise layer fewer per acquire.
        const light = signal === undefined || !attempt.plan.contended;
        const token = light
          ? await tryEnqueue(this.#ctx.rpc, attempt.contender, attempt.seat.session.idText)
          : undefined;
        if (token !== undefined) enqueued = { token, position: GRANTED };
        else if (signal) enqueued = await this.#join(attempt);
      } catch (error) {
        if (!this.#leaseVanished(attempt, error)) deleteLater(this.#ctx, attempt.contender.key, attempt.seat);
        else if (retry === 0) continue;
        throw unavailable(signal ? 'enqueue' : 'try-acquire', error);
      }
      if (enqueued === undefined) {
        leaveSeat(attempt.seat);
        return null;
      }
      if (signal && (enqueued.position.kind !== 'granted' || signal.aborted)) {
        try {
          await this.#wait(attempt, enqueued, signal);
          // The grant may have raced an abort: the caller has gone, so give it back.
          signal.throwIfAborted();
        } catch (error) {
          await this.#withdraw(attempt);
          throw signal.aborted ? signal.reason : error;
        }
      }
      return new EtcdGrant(this.#ctx, attempt.seat, attempt.contender.key, enqueued.token, request.lock.name);
    }
  }

  /**
   * Joins the queue when the light try (put only if the queue is empty, tried first because
   * most acquires find the lock free) was refused — or skipped: a lock this coordinator last
   * found taken goes straight here (refused, the light try would still cost a raft write)
   * until this finds the queue empty again.
   */
  async #join({ contender, seat, plan }: Attempt): Promise<Enqueued> {
    const enqueued = await enqueue(this.#ctx.rpc, contender, seat.session.idText);
    plan.contended = enqueued.position.kind !== 'granted';
    return enqueued;
  }

  /** Waits in the queue until our key is the oldest; throws when it or its lease is gone. */
  async #wait(attempt: Attempt, { token, position }: Enqueued, signal: AbortSignal): Promise<void> {
    const waiter = new QueueWaiter(this.#ctx, this, attempt, token);
    this.waiting++;
    try {
      await waitInQueue(waiter, position, signal, undefined, lostWhileQueued);
    } finally {
      this.waiting--;
      waiter.close();
    }
  }

  /**
   * Takes a seat (a lease and a slot) and names our key — synchronously when the coordinator's
   * lease for the TTL is granted and live (the common case: no turn of the event loop).
   */
  #begin(request: AcquireRequest): Attempt | Promise<Attempt> {
    const plan = this.#plan(request.lock);
    const { queue, native } = plan.layout;
    const shared = native ? undefined : this.#ctx.sessions.current(request.ttlMs);
    if (shared) return plan.attempt(takeSeat(shared, queue, false));
    return this.#seat(request.ttlMs, plan.layout).then(
      (seat) => plan.attempt(seat),
      (error: unknown) => {
        throw unavailable('lease grant', error);
      },
    );
  }

  /** A seat once a lease is granted; a native key needs one with slot 0 of its queue free. */
  async #seat(ttlMs: number, { queue, native }: QueueLayout): Promise<Seat> {
    const { sessions, extras } = this.#ctx;
    for (;;) {
      const shared = sessions.current(ttlMs) ?? (await sessions.session(ttlMs));
      if (shared.live && (!native || shared.slotFree(queue))) return takeSeat(shared, queue, native);
      if (!native) continue;
      const extra = await extras.lease(ttlMs, queue);
      if (extra.live && extra.slotFree(queue)) return takeSeat(extra, queue, true);
    }
  }

  /** What is known of a lock (cached: core hands the same `LockRef` to every acquire of a `Lock`). */
  #plan(lock: LockRef): LockPlan {
    let plan = this.#plans.get(lock);
    if (!plan) {
      plan = new LockPlan(lockQueue(lock));
      this.#plans.set(lock, plan);
    }
    return plan;
  }

  /**
   * A put refused for "lease not found": the lease is gone (and nothing was written — the
   * transaction failed as a whole); the caller retries once on a fresh lease.
   */
  #leaseVanished(attempt: Attempt, error: unknown): boolean {
    if (!isLeaseNotFound(error)) return false;
    attempt.seat.session.markLost('a put on it was refused (lease not found)', error);
    leaveSeat(attempt.seat);
    return true;
  }

  /** Leaves the queue: deletes our key now, or in the background if etcd cannot be reached. */
  async #withdraw(attempt: Attempt): Promise<void> {
    try {
      await remove(this.#ctx.rpc, attempt.contender.key);
      leaveSeat(attempt.seat);
    } catch {
      deleteLater(this.#ctx, attempt.contender.key, attempt.seat);
    }
  }
}

function lostWhileQueued(why: string, cause: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    'etcd',
    `the lease of this waiter ended while it was queued (${why}), so the acquire failed instead of waiting on`,
    { cause },
  );
}

/**
 * A lock's queue layout, and the contender it named last. A lock acquired over and over from
 * one coordinator names the same key each time (same lease, slot 0): the same key string then
 * costs no new string, hash or bytes on the hot path.
 */
class LockPlan {
  readonly layout: QueueLayout;
  /** The last enqueue found others in the queue: the next acquire goes straight to the full enqueue. */
  contended = false;
  #last: { readonly leaseHex: string; readonly slot: number; readonly contender: Contender } | undefined;

  constructor(layout: QueueLayout) {
    this.layout = layout;
  }

  attempt(seat: Seat): Attempt {
    const { idHex } = seat.session;
    const last = this.#last;
    if (last !== undefined && last.slot === seat.slot && last.leaseHex === idHex) {
      return { seat, plan: this, contender: last.contender };
    }
    const contender = { queue: this.layout.queue, key: memberKeyHex(this.layout, idHex, seat.slot) };
    this.#last = { leaseHex: idHex, slot: seat.slot, contender };
    return { seat, plan: this, contender };
  }
}
