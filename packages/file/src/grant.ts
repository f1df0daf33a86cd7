/**
 * A granted lock or permit: renew, release and ownership checks, each one critical section that
 * changes the record only while we are still one of its holders.
 * @module
 */
import type { LeaseGrant } from '@lockstep/core';
import { monotonicNowMs } from './clock.js';
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

/**
 * The lease of `lease`. `afterRelease` runs after a release that gave the lock or permit back,
 * so a waiter of this process can take it without waiting for the file-change notification.
 */
export function leaseGrant(lease: GrantedLease, afterRelease: () => void): LeaseGrant {
  const { path, owner } = lease;
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
    renew: (ttlMs) =>
      asHolder((record, holders, index) => {
        const renewed = holders.slice();
        renewed[index] = { ...holders[index]!, deadline: monotonicNowMs() + ttlMs };
        return withHolders(record, renewed);
      }),
    release: async () => {
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
