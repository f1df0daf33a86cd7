/**
 * A queued contender's half of core's `waitInQueue`: watch the keys ahead of ours that can let
 * it in (for a lock the one just ahead) — and our own, so that if our lease ends while we wait, our key's delete wakes us instead of a
 * predecessor that may hold for hours (etcd issue 19597) — and read our position again when
 * either goes, or when the fallback timer runs out.
 *
 * The watch stays open for as long as the predecessor does not change: a fallback re-check costs
 * one read, not a new watch. And the fallback is a safety net under the watch, never the
 * mechanism, so its cost is bounded per coordinator rather than per waiter: with many waiters each
 * one's re-checks are spaced out so that together they send at most {@link FALLBACK_RATE} reads a
 * second. (Every waiter re-checking every 2 s made a thousand waiters send 500 reads a second in
 * waves, and the one woken by a release queued its read behind them: handoffs of 1–3 s.)
 * @module
 */
import { Backoff, jitter, LossFlag, type QueueStep, type QueueStrategy, sleep } from '@lockstep/core/driver';
import { isLeaseNotFound } from './errors.js';
import type { GrantContext, Seat } from './grant.js';
import { type Contender, type Position, type Predecessor, recheck } from './queue.js';
import type { EtcdSession, LeaseKey } from './session.js';

/** Most fallback re-checks per second of all the waiters of one coordinator together. */
export const FALLBACK_RATE = 25;

/** The acquire that waits: its seat and its key. */
export interface QueuedAttempt {
  readonly seat: Seat;
  readonly contender: Contender;
}

/** What ended a pause. */
type Outcome =
  | { readonly kind: 'live' | 'deleted'; readonly revision: bigint }
  | { readonly kind: 'broken' | 'timer' | 'stop' };

const BROKEN: Outcome = { kind: 'broken' };
const TIMER: Outcome = { kind: 'timer' };
const STOP: Outcome = { kind: 'stop' };
const STOPPED: Position = { kind: 'gone', why: 'the wait was stopped' };

/** One contender waiting for its turn (a member of its lease's session while it waits). */
export class QueueWaiter implements QueueStrategy<Predecessor>, LeaseKey {
  readonly key: string;
  readonly token: bigint;
  readonly writtenAt = performance.now();
  /** Trips when our lease (or our key on it) is gone. */
  readonly lost = new LossFlag();
  readonly #ctx: GrantContext;
  readonly #attempt: QueuedAttempt;
  readonly #session: EtcdSession;
  /** The keys ahead the open watch covers, and how to cancel it. */
  #watched: readonly Buffer[] | undefined;
  #cancel: (() => void) | undefined;
  /** What happened while nobody was pausing (the next pause returns it at once). */
  #pending: Outcome | undefined;
  #resume: ((outcome: Outcome) => void) | undefined;
  #stop: AbortSignal | undefined;
  readonly #onStop = () => this.#resume?.(STOP);

  constructor(ctx: GrantContext, attempt: QueuedAttempt, token: bigint) {
    this.#ctx = ctx;
    this.#attempt = attempt;
    this.#session = attempt.seat.session;
    this.key = attempt.contender.key;
    this.token = token;
    this.#session.join(this);
  }

  async next(wait: Predecessor, fallbackMs: number, stop: AbortSignal): Promise<QueueStep<Predecessor>> {
    if (this.#stop === undefined) {
      this.#stop = stop;
      stop.addEventListener('abort', this.#onStop, { once: true });
    }
    if (this.#watched === undefined || !sameKeys(this.#watched, wait.keys)) this.#watch(wait.keys);
    for (;;) {
      const outcome = await this.#pause(fallbackMs, stop);
      if (outcome.kind === 'stop') return { next: { kind: 'waiting', wait }, woke: false };
      if (outcome.kind === 'live') {
        // The watches see deletes after `revision`; we read the queue at `seenAt`. If anything
        // happened in between, read again: the same predecessor then means the watch covers it.
        if (outcome.revision <= wait.seenAt) continue;
        const next = await this.#read(stop);
        return { next, woke: next.kind !== 'waiting' || !sameKeys(next.wait.keys, wait.keys) };
      }
      this.#ctx.waits.wakes[outcome.kind]++;
      const deletedAt = outcome.kind === 'deleted' ? outcome.revision : undefined;
      return { next: await this.#read(stop, deletedAt), woke: deletedAt !== undefined };
    }
  }

  /** The session lost our lease, or found our key gone from it. */
  sessionLost(reason: Error): void {
    this.lost.abort(reason);
    this.#resume?.(STOP);
  }

  /** Stops watching and leaves the session (the wait is over, one way or the other). */
  close(): void {
    this.#cancel?.();
    this.#stop?.removeEventListener('abort', this.#onStop);
    this.#session.leave(this);
  }

  #watch(ahead: readonly Buffer[]): void {
    this.#cancel?.();
    this.#pending = undefined;
    this.#watched = ahead;
    const own = this.#ctx.rpc.key(this.key);
    this.#cancel = this.#ctx.watches.watchDeletes([...ahead, own], {
      live: (revision) => this.#wake({ kind: 'live', revision }),
      deleted: (revision) => this.#ended({ kind: 'deleted', revision }),
      broken: () => this.#ended(BROKEN),
    });
  }

  #ended(outcome: Outcome): void {
    this.#watched = undefined;
    this.#cancel = undefined;
    this.#wake(outcome);
  }

  #wake(outcome: Outcome): void {
    if (this.#resume) this.#resume(outcome);
    else this.#pending = outcome;
  }

  /** Until the watch says something, the fallback timer runs out, or the wait is stopped. */
  #pause(fallbackMs: number, stop: AbortSignal): Promise<Outcome> {
    const pending = this.#pending;
    if (pending) {
      this.#pending = undefined;
      return Promise.resolve(pending);
    }
    if (stop.aborted || this.lost.aborted) return Promise.resolve(STOP);
    const spacedMs = Math.max(fallbackMs, (this.#ctx.waits.waiting * 1_000) / FALLBACK_RATE);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#resume?.(TIMER), jitter(spacedMs));
      timer.unref();
      this.#resume = (outcome) => {
        clearTimeout(timer);
        this.#resume = undefined;
        resolve(outcome);
      };
    });
  }

  /**
   * Reads our position, retrying through transient failures for as long as our lease lives.
   * `deletedAt`: a delete at that revision woke us (the read may then be served locally).
   */
  async #read(stop: AbortSignal, deletedAt?: bigint): Promise<Position> {
    const backoff = new Backoff(50, 1_000);
    for (;;) {
      try {
        return await recheck(this.#ctx.rpc, this.#attempt.contender, this.token, deletedAt);
      } catch (error) {
        if (isLeaseNotFound(error)) this.#session.markLost('a re-check was refused (lease not found)', error);
        if (stop.aborted || this.lost.aborted) return STOPPED;
        await sleep(backoff.next(), stop);
      }
    }
  }
}

function sameKeys(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((key, i) => key.equals(b[i]!));
}
