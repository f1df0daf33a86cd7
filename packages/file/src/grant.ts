/**
 * A granted lock or permit: renew, release and ownership checks, each one critical section that
 * changes the record only while we are still one of its holders.
 *
 * A holder of this process whose lease ended is told the moment a section of this process gives
 * its place to another, before that grant is handed out: its own expiry timer may not have run
 * yet (a stalled event loop runs every due timer at once, a waiter's re-check perhaps first), and
 * no handle here may say "held" while another handle here holds its place.
 * @module
 */
import { type LeaseGrant, LockLostError, LossFlag } from '@lockstep/core';
import { monotonicNowMs, PID_NAMESPACE } from './clock.js';
import { withFileLock } from './flock.js';
import { type Holder, holderOf, type LeaseRecord, withHolders } from './queue.js';
import { readRecord, writeRecord } from './record.js';

/** Where a grant lives and what it carries. */
export interface GrantedLease {
  readonly path: string;
  readonly owner: string;
  readonly fencingToken: bigint;
  /** `performance.now()` read before the deadline was computed: the lease is ours until then. */
  readonly validUntil: number;
}

/** The loss notices of this process's grants that may still be in a record, by owner id. */
const heldHere = new Map<string, LossFlag>();

/**
 * The lease of `lease`. `afterRelease` runs after a release that gave the lock or permit back,
 * so a waiter of this process can take it without waiting for the file-change notification.
 */
export function leaseGrant(lease: GrantedLease, afterRelease: () => void): LeaseGrant {
  const { path, owner } = lease;
  const lost = new LossFlag();
  heldHere.set(owner, lost);
  /** Writes `change(record, index)` inside a section; `false` when we are no longer a holder. */
  const asHolder = (
    change: (record: LeaseRecord, holders: readonly Holder[], index: number) => LeaseRecord,
  ) =>
    withFileLock(path, (fd) => {
      const record = readRecord<LeaseRecord>(fd);
      const holders = record?.holders ?? [];
      const index = holders.findIndex((holder) => holder.owner === owner);
      if (index < 0) return false;
      writeRecord(fd, change(record!, holders, index));
      return true;
    });
  return {
    fencingToken: lease.fencingToken,
    validUntil: lease.validUntil,
    lost,
    renew: async (ttlMs) => {
      const renewed = await asHolder((record, holders, index) => {
        const next = holders.slice();
        next[index] = { ...holders[index]!, deadline: monotonicNowMs() + ttlMs };
        return withHolders(record, next);
      });
      if (!renewed) heldHere.delete(owner);
      return renewed;
    },
    release: async () => {
      heldHere.delete(owner);
      // The token stays in the record, so the next grant gets a larger one.
      const released = await asHolder((record, holders, index) =>
        withHolders(
          record,
          holders.filter((_, i) => i !== index),
        ),
      );
      if (released) afterRelease();
      return released;
    },
    isHeld: () =>
      withFileLock(
        path,
        (fd) => (holderOf(readRecord<LeaseRecord>(fd), owner)?.deadline ?? 0) > monotonicNowMs(),
      ),
  };
}

/**
 * Tells this process's holders in `record` that are missing from `kept` (the holders a grant just
 * written kept) that their lease ended. Call it after the write and before the grant is handed
 * out. A holder of this process is only ever dropped for its lease: its pid lives.
 */
export function tellDropped(record: LeaseRecord | undefined, kept: readonly Holder[]): void {
  // Nobody dropped: `liveHolders` gives back the record's own list (the common case).
  if (record?.holders === undefined || kept === record.holders) return;
  for (const holder of record.holders) {
    if (holder.pid !== process.pid || holder.pidns !== PID_NAMESPACE || kept.includes(holder)) continue;
    const lost = heldHere.get(holder.owner);
    if (lost === undefined) continue;
    heldHere.delete(holder.owner);
    lost.abort(new LockLostError(record.name, 'expired'));
  }
}
