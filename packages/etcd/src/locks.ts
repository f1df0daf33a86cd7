/**
 * `LockDriver` for etcd: enqueue in one transaction, wait on the predecessor's delete, re-check.
 * Core adds everything above it (validation, timeouts, handles, renewal scheduling).
 * @module
 */
import {
  type AcquireRequest,
  BackendUnavailableError,
  jitter,
  type LeaseGrant,
  type LockDriver,
  type LockRef,
  type NativeLockLocation,
  sleep,
} from '@lockstep/core';
import { isLeaseNotFound, unavailable } from './errors.js';
import { EtcdGrant, type GrantContext } from './grant.js';
import { lockQueue, memberKeyHex, type QueueLayout, validateNativePrefix } from './keys.js';
import {
  type Contender,
  type Enqueued,
  enqueue,
  type Position,
  recheck,
  remove,
  tryEnqueue,
} from './queue.js';
import type { Seat } from './sessions.js';
import type { Wake, WatchTicket } from './watch.js';

/** The fallback re-check of a waiter: a safety net under the watch, never the mechanism. */
export const WAIT_RECHECK = { initialMs: 250, maxMs: 2_000 } as const;

const OWNER: Position = { kind: 'owner' };

/** One acquire's seat (session and slot) and key. */
interface Attempt {
  readonly seat: Seat;
  readonly contender: Contender;
  readonly plan: LockPlan;
}

/** Lock operations over one coordinator's sessions, watch stream and sweeper. */
export class EtcdLocks implements LockDriver {
  readonly #ctx: GrantContext;
  readonly #plans = new WeakMap<LockRef, LockPlan>();
  /** Why waiters woke up (for tests: a release must wake exactly the next waiter). */
  readonly wakes = { deleted: 0, broken: 0, timer: 0 };

  constructor(ctx: GrantContext) {
    this.#ctx = ctx;
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePrefix(native);
  }

  async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
    for (let retry = 0; ; retry++) {
      const begun = this.#begin(request);
      const attempt = begun instanceof Promise ? await begun : begun;
      let token: bigint | undefined;
      try {
        token = await tryEnqueue(this.#ctx.rpc, attempt.contender, attempt.seat.session.idText);
      } catch (error) {
        if (this.#leaseVanished(attempt, error)) {
          if (retry === 0) continue;
        } else {
          this.#discard(attempt);
        }
        throw unavailable('try-acquire', error);
      }
      if (token === undefined) {
        this.#ctx.sessions.leave(attempt.seat);
        return null;
      }
      return this.#grant(attempt, token);
    }
  }

  async acquire(request: AcquireRequest, signal: AbortSignal): Promise<LeaseGrant> {
    signal.throwIfAborted();
    for (let retry = 0; ; retry++) {
      const begun = this.#begin(request);
      const attempt = begun instanceof Promise ? await begun : begun;
      let enqueued: Enqueued;
      try {
        // The light try inline (not in a helper of its own): one promise layer fewer per acquire.
        const token = attempt.plan.contended
          ? undefined
          : await tryEnqueue(this.#ctx.rpc, attempt.contender, attempt.seat.session.idText);
        enqueued = token !== undefined ? { token, position: OWNER } : await this.#join(attempt);
      } catch (error) {
        if (this.#leaseVanished(attempt, error)) {
          if (retry === 0) continue;
        } else {
          this.#discard(attempt);
        }
        throw unavailable('enqueue', error);
      }
      try {
        await this.#waitTurn(attempt, enqueued, signal);
        // The grant may have raced an abort: the caller has gone, so give it back.
        signal.throwIfAborted();
      } catch (error) {
        await this.#withdraw(attempt);
        throw signal.aborted ? signal.reason : error;
      }
      return this.#grant(attempt, enqueued.token);
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
    plan.contended = enqueued.position.kind !== 'owner';
    return enqueued;
  }

  /**
   * Takes a seat (a session and a slot) and names our key — synchronously when the lease is
   * already granted (the common case: no extra turn of the event loop on the hot path).
   */
  #begin(request: AcquireRequest): Attempt | Promise<Attempt> {
    const plan = this.#plan(request.lock);
    const { sessions } = this.#ctx;
    const seat = sessions.take(request.ttlMs, plan.layout.queue, plan.layout.native);
    const named = (): Attempt => ({ seat, plan, contender: plan.contender(seat.session.idHex, seat.slot) });
    if (seat.session.grantedId !== undefined) return named();
    return seat.session.ready.then(named, (error) => {
      sessions.leave(seat);
      throw unavailable('lease grant', error);
    });
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
   * A put refused for "lease not found": the session is gone (and nothing was written — the
   * transaction failed as a whole); the caller retries once on a fresh session.
   */
  #leaseVanished(attempt: Attempt, error: unknown): boolean {
    if (!isLeaseNotFound(error)) return false;
    attempt.seat.session.markLost('a put on it was refused (lease not found)', error);
    this.#ctx.sessions.leave(attempt.seat);
    return true;
  }

  /**
   * Waits until our key is the oldest in the queue. Returns when we hold the lock; throws
   * when our key or its lease is gone; returns early (the caller checks) when `signal` aborts.
   */
  async #waitTurn(attempt: Attempt, enqueued: Enqueued, signal: AbortSignal): Promise<void> {
    const { session } = attempt.seat;
    let position: Position = enqueued.position;
    let fallbackMs: number = WAIT_RECHECK.initialMs;
    for (;;) {
      if (signal.aborted) return;
      if (session.lost.aborted) throw lostWhileQueued(session.lost.reason);
      if (position.kind === 'owner') return;
      if (position.kind === 'gone') throw lostWhileQueued(new Error('our queue key was deleted'));
      const { next, woke } = await this.#waitForPredecessor(
        attempt,
        enqueued.token,
        position,
        fallbackMs,
        signal,
      );
      fallbackMs = woke ? WAIT_RECHECK.initialMs : Math.min(fallbackMs * 2, WAIT_RECHECK.maxMs);
      position = next;
    }
  }

  /**
   * One wait: watch the key just ahead of us — and our own, so that if our lease ends while we
   * wait, our key's delete wakes us instead of a predecessor that may hold for hours (etcd
   * #19597) — then re-read our position when either goes, or when the fallback timer runs out.
   */
  async #waitForPredecessor(
    attempt: Attempt,
    token: bigint,
    position: Extract<Position, { kind: 'waiting' }>,
    fallbackMs: number,
    signal: AbortSignal,
  ): Promise<{ next: Position; woke: boolean }> {
    const { rpc, watches } = this.#ctx;
    const { session } = attempt.seat;
    const ticket = watches.watchDeletes([position.predecessor, rpc.key(attempt.contender.key)]);
    try {
      const liveAfter = await firstOf(ticket.created, ticket.woken, fallbackMs, signal, session.lost);
      if (liveAfter === 'aborted') return { next: position, woke: false };
      if (typeof liveAfter !== 'bigint') {
        this.wakes[liveAfter]++;
        const next = await this.#recheckPatiently(attempt, token, signal, await deletedAt(ticket, liveAfter));
        return { next, woke: liveAfter === 'deleted' };
      }
      // The watches see deletes after `liveAfter`; we last read the queue at `seenAt`. If
      // anything happened in between, read again: still the same predecessor means the watch
      // covers it from here on.
      if (liveAfter > position.seenAt) {
        const now = await this.#recheckPatiently(attempt, token, signal);
        if (now.kind !== 'waiting' || !now.predecessor.equals(position.predecessor))
          return { next: now, woke: true };
      }
      const wake = await untilWoken(ticket.woken, fallbackMs, signal, session.lost);
      if (wake === 'aborted') return { next: position, woke: false };
      this.wakes[wake]++;
      const next = await this.#recheckPatiently(attempt, token, signal, await deletedAt(ticket, wake));
      return { next, woke: wake === 'deleted' };
    } finally {
      ticket.cancel();
    }
  }

  /** Re-reads our position, retrying through transient failures for as long as our lease lives. */
  async #recheckPatiently(
    attempt: Attempt,
    token: bigint,
    signal: AbortSignal,
    seenDeleteAt?: bigint,
  ): Promise<Position> {
    let pauseMs = 50;
    for (;;) {
      try {
        return await recheck(this.#ctx.rpc, attempt.contender, token, seenDeleteAt);
      } catch (error) {
        if (signal.aborted || attempt.seat.session.lost.aborted) return { kind: 'gone' };
        if (isLeaseNotFound(error))
          attempt.seat.session.markLost('a re-check was refused (lease not found)', error);
        await sleep(jitter(pauseMs), AbortSignal.any([signal, attempt.seat.session.lost]));
        pauseMs = Math.min(pauseMs * 2, 1_000);
      }
    }
  }

  /** Leaves the queue: deletes our key now, or hands it to the sweeper if etcd cannot be reached. */
  async #withdraw(attempt: Attempt): Promise<void> {
    const { rpc, sessions } = this.#ctx;
    try {
      await remove(rpc, attempt.contender.key);
      sessions.leave(attempt.seat);
    } catch {
      this.#discard(attempt);
    }
  }

  /** A key whose put or delete had an unknown outcome: delete it in the background. */
  #discard(attempt: Attempt): void {
    const { sweeper, sessions } = this.#ctx;
    sweeper.add(attempt.contender.key, attempt.seat.session, () => sessions.leave(attempt.seat));
  }

  #grant(attempt: Attempt, token: bigint): LeaseGrant {
    return new EtcdGrant(this.#ctx, attempt.seat, attempt.contender.key, token);
  }
}

function lostWhileQueued(cause: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    'etcd',
    'the lease of this waiter ended while it was queued (its key is gone), so the acquire failed instead of waiting on',
    { cause },
  );
}

/** What ended a wait. */
type WaitOutcome = 'deleted' | 'broken' | 'timer' | 'aborted';

/** The revision of the delete that woke us, when a delete did. */
async function deletedAt(ticket: WatchTicket, outcome: WaitOutcome): Promise<bigint | undefined> {
  if (outcome !== 'deleted') return undefined;
  const wake = await ticket.woken;
  return wake.reason === 'deleted' ? wake.revision : undefined;
}

/** Resolves with what happened first: a watched key was deleted, the watch broke, the timer ran out, or an abort. */
function untilWoken(
  woken: Promise<Wake>,
  fallbackMs: number,
  ...signals: AbortSignal[]
): Promise<WaitOutcome> {
  return firstOf(undefined, woken, fallbackMs, ...signals) as Promise<WaitOutcome>;
}

/**
 * Resolves with what happened first: the watches went live (their start revision), a watched
 * key was deleted, the watch broke, the fallback timer ran out, or a signal aborted.
 */
function firstOf(
  created: Promise<bigint | undefined> | undefined,
  woken: Promise<Wake>,
  fallbackMs: number,
  ...signals: AbortSignal[]
): Promise<bigint | WaitOutcome> {
  return new Promise((resolve) => {
    const stop = AbortSignal.any(signals);
    if (stop.aborted) return resolve('aborted');
    let settled = false;
    const finish = (what: bigint | WaitOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop.removeEventListener('abort', onAbort);
      resolve(what);
    };
    const onAbort = () => finish('aborted');
    const timer = setTimeout(() => finish('timer'), jitter(fallbackMs));
    timer.unref();
    stop.addEventListener('abort', onAbort, { once: true });
    created?.then((revision) => {
      if (revision !== undefined) finish(revision);
    });
    woken.then((w) => finish(w.reason));
  });
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

  contender(leaseHex: string, slot: number): Contender {
    const last = this.#last;
    if (last !== undefined && last.slot === slot && last.leaseHex === leaseHex) return last.contender;
    const contender = { queue: this.layout.queue, key: memberKeyHex(this.layout, leaseHex, slot) };
    this.#last = { leaseHex, slot, contender };
    return contender;
  }
}
