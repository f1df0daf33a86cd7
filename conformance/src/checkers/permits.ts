/**
 * Semaphores, checked over recorded hold intervals: never more than K holders at one moment,
 * and fencing tokens that order the permits.
 *
 * As for locks, a recorded interval lies inside the real hold (`acquiredAt` after `acquire()`
 * resolved, `releasedAt` before `release()` was called), so recorded holds that share a moment
 * prove that many real holders: no false alarms.
 *
 * Tokens of a semaphore cannot be checked in recorded grant order: two permits granted at
 * about the same time may resolve on their clients in either order. What a resource guarded by
 * the tokens relies on is weaker and checkable: every permit has its own token, and a permit
 * certainly granted after another has a larger one. "Certainly after" needs a lower bound on
 * the later grant: the moment its request was sent (`requestedAt`). A grant that had resolved
 * (`acquiredAt`) before another's request was sent came first.
 * @module
 */
import type { HoldInterval } from './mutex.js';

/** A recorded permit: its hold, and when its acquire was called. */
export interface PermitHold extends HoldInterval {
  /** `performance.now()` just before `acquire()` (or `tryAcquire()`) was called. */
  readonly requestedAt: number;
}

/** Verdict of {@link checkPermits}. */
export interface PermitCheckResult {
  /** `true` when never more than `permits` holds shared a moment and tokens are in order. */
  readonly ok: boolean;
  /** The most holds that shared one moment. */
  readonly maxConcurrent: number;
  /** Moments with more than `permits` holders: each the hold that made one too many, and the others inside. */
  readonly excess: ReadonlyArray<{ readonly hold: HoldInterval; readonly inside: readonly HoldInterval[] }>;
  /** Two permits with the same token. */
  readonly duplicateTokens: ReadonlyArray<readonly [HoldInterval, HoldInterval]>;
  /** A permit certainly granted after another, with a token not larger than that one's. */
  readonly tokenInversions: ReadonlyArray<{ readonly earlier: HoldInterval; readonly later: HoldInterval }>;
  readonly grants: number;
}

/** Checks recorded holds of one semaphore of `permits` permits. */
export function checkPermits(holds: readonly PermitHold[], permits: number): PermitCheckResult {
  const byStart = [...holds].sort((a, b) => a.acquiredAt - b.acquiredAt);
  const excess: Array<{ hold: HoldInterval; inside: HoldInterval[] }> = [];
  let maxConcurrent = 0;
  let active: HoldInterval[] = [];
  for (const hold of byStart) {
    active = active.filter((other) => other.releasedAt > hold.acquiredAt);
    const concurrent = active.length + 1;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    if (concurrent > permits && excess.length < 20) excess.push({ hold, inside: [...active] });
    active.push(hold);
  }

  const duplicateTokens: Array<readonly [HoldInterval, HoldInterval]> = [];
  const seen = new Map<bigint, HoldInterval>();
  for (const hold of byStart) {
    if (hold.fencingToken === undefined) continue;
    const earlier = seen.get(hold.fencingToken);
    if (earlier && duplicateTokens.length < 20) duplicateTokens.push([earlier, hold]);
    else seen.set(hold.fencingToken, hold);
  }

  // Walk requests in send order, folding in every grant that had resolved before each was sent.
  const tokened = holds.filter((h) => h.fencingToken !== undefined);
  const byRequest = [...tokened].sort((a, b) => a.requestedAt - b.requestedAt);
  const byGrant = [...tokened].sort((a, b) => a.acquiredAt - b.acquiredAt);
  const tokenInversions: Array<{ earlier: HoldInterval; later: HoldInterval }> = [];
  let highest: HoldInterval | undefined;
  let next = 0;
  for (const hold of byRequest) {
    while (next < byGrant.length && byGrant[next]!.acquiredAt < hold.requestedAt) {
      const earlier = byGrant[next++]!;
      if (highest === undefined || earlier.fencingToken! > highest.fencingToken!) highest = earlier;
    }
    if (highest === undefined) continue;
    if (hold.fencingToken! <= highest.fencingToken! && tokenInversions.length < 20)
      tokenInversions.push({ earlier: highest, later: hold });
  }

  return {
    ok: excess.length === 0 && duplicateTokens.length === 0 && tokenInversions.length === 0,
    maxConcurrent,
    excess,
    duplicateTokens,
    tokenInversions,
    grants: holds.length,
  };
}
