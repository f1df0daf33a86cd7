/**
 * A granted lock as core sees it (`LeaseGrant`), built from the three owner-checked
 * operations a Redis lock has. Shared by the single-instance and Redlock drivers, and by
 * semaphores (a permit is one more owner-checked entry).
 * @module
 */
import { type LeaseGrant, LossFlag } from '@lockstep/core/driver';
import type { LossMonitor } from './loss-monitor.js';

/** Owner-checked operations on one granted lock. */
export interface OwnedLockOps {
  /** Compare-then-PEXPIRE: true while ours; throws when unreachable. */
  /** `urgent`: someone waits on it (an explicit `extend()`), so it is not held back for a batch. */
  extend(ttlMs: number, urgent?: boolean): Promise<boolean>;
  /** Compare-then-DEL: true when it was ours; never touches another owner's key. */
  release(): Promise<boolean>;
  /** Whether the key still holds our owner id; throws when unreachable. */
  isHeld(): Promise<boolean>;
}

/** What identifies a grant on the server, and its extras. */
export interface GrantDetails {
  readonly key: string;
  readonly owner: string;
  /** A semaphore permit: how its entry in the sorted set `key` is judged live (see `OwnedKey`). */
  readonly windowMs?: number;
  readonly fencingToken?: bigint;
  /** Redlock's `start + ttl − drift`; absent for a single instance (core uses sent + ttl). */
  readonly validUntil?: number;
}

/**
 * Wraps `ops` as a `LeaseGrant` whose `lost` notice the {@link LossMonitor} trips when a
 * reconnect shows the key is no longer ours. After a refused renewal or a release the grant
 * stops being monitored: core already knows it is over.
 */
export function monitoredGrant(ops: OwnedLockOps, monitor: LossMonitor, details: GrantDetails): LeaseGrant {
  const lost = new LossFlag();
  const untrack = monitor.track({
    key: details.key,
    owner: details.owner,
    windowMs: details.windowMs,
    markLost: (why) => lost.abort(new Error(why)),
  });
  return {
    fencingToken: details.fencingToken,
    validUntil: details.validUntil,
    lost,
    renew(ttlMs, urgent) {
      return ops.extend(ttlMs, urgent).then((ours) => {
        if (!ours) untrack();
        return ours;
      });
    },
    release() {
      untrack();
      return ops.release();
    },
    isHeld: () => ops.isHeld(),
  };
}
