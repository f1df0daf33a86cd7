/**
 * Waiting in an ordered queue of contenders (etcd keys by create revision, ZooKeeper
 * sequential nodes, Curator's and etcd's recipes): every contender puts its own entry in the
 * queue; the first `permits` entries hold; each waiter watches only what can let it in — for a
 * lock the one entry just ahead of it, so a release wakes exactly one waiter — and re-reads its
 * position when that goes. A fallback timer, doubling from a short delay, re-reads it anyway,
 * so a lost watch event can delay a grant but never hang it.
 *
 * The loop is the same for every queue backend; a {@link QueueStrategy} says how to read a
 * position and how to wait for the next change. The first position comes from the strategy's
 * own join (its uncontended case is one round trip and stays the adapter's business).
 * @module
 */
import { type RecheckPolicy, WATCHED_RECHECK } from '../wait.js';

/** Where a contender stands. */
export type QueuePosition<W> =
  /** Among the first: it holds. */
  | { readonly kind: 'granted' }
  /** Waiting; `wait` is what the strategy needs to wait for the next change (a predecessor). */
  | { readonly kind: 'waiting'; readonly wait: W }
  /** Its entry is gone (its session ended, or someone deleted it). */
  | { readonly kind: 'gone'; readonly why: string };

/** A wait's outcome: the position after it, and whether a real change (not the timer) ended it. */
export interface QueueStep<W> {
  readonly next: QueuePosition<W>;
  readonly woke: boolean;
}

/** The backend's half of a queue wait. */
export interface QueueStrategy<W> {
  /**
   * Waits until what `wait` names may have changed (a watched entry deleted), at most about
   * `fallbackMs`, and reads the position again. Returns early, with any position, when `stop`
   * aborts (the loop checks it). Transient failures are the strategy's to retry while its
   * session lives.
   */
  next(wait: W, fallbackMs: number, stop: AbortSignal): Promise<QueueStep<W>>;
  /** Whether the contender's session was lost (then the wait fails with that reason). */
  readonly lost?: { readonly aborted: boolean; readonly reason: unknown };
}

/**
 * Waits from `position` until granted. Resolves when the contender holds; rejects with
 * `stop.reason` when `stop` aborts, or with an error when the entry or its session is gone.
 * Leaving the queue on failure is the caller's: it knows how to delete its own entry.
 */
export async function waitInQueue<W>(
  strategy: QueueStrategy<W>,
  position: QueuePosition<W>,
  stop: AbortSignal,
  recheck: RecheckPolicy = WATCHED_RECHECK,
  onGone: (why: string, cause: unknown) => Error = (why, cause) => new Error(why, { cause }),
): Promise<void> {
  let fallbackMs = recheck.initialMs;
  for (;;) {
    if (stop.aborted) throw stop.reason;
    if (strategy.lost?.aborted) throw onGone('its session was lost while it waited', strategy.lost.reason);
    if (position.kind === 'granted') return;
    if (position.kind === 'gone') throw onGone(position.why, undefined);
    const step = await strategy.next(position.wait, fallbackMs, stop);
    // A real change resets the fallback; only silence makes it back off.
    fallbackMs = step.woke ? recheck.initialMs : Math.min(fallbackMs * 2, recheck.maxMs);
    position = step.next;
  }
}
