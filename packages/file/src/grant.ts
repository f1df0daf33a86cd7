/**
 * A granted file lock: renew, release and ownership checks, each one critical section that
 * changes the record only while we are still its owner.
 * @module
 */
import type { LeaseGrant } from '@lockstep/core';
import { monotonicNowMs } from './clock.js';
import { withFileLock } from './flock.js';
import { freed, type LockRecord } from './queue.js';
import { readRecord, writeRecord } from './record.js';

/** Where a grant lives and what it carries. */
export interface GrantedLock {
  readonly path: string;
  readonly owner: string;
  readonly fencingToken: bigint;
  /** `performance.now()` read before the deadline was computed: the lease is ours until then. */
  readonly validUntil: number;
}

/**
 * The lease of `lock`. `afterRelease` runs after a release that freed the lock, so a waiter of
 * this process can take it without waiting for the file-change notification.
 */
export function leaseGrant(lock: GrantedLock, afterRelease: () => void): LeaseGrant {
  const { path, owner } = lock;
  const ours = (record: LockRecord | undefined): record is LockRecord => record?.owner === owner;
  return {
    fencingToken: lock.fencingToken,
    validUntil: lock.validUntil,
    renew: (ttlMs) =>
      withFileLock(path, (fd) => {
        const record = readRecord<LockRecord>(fd);
        if (!ours(record)) return false;
        writeRecord(fd, { ...record, deadline: monotonicNowMs() + ttlMs });
        return true;
      }),
    release: async () => {
      const released = await withFileLock(path, (fd) => {
        const record = readRecord<LockRecord>(fd);
        if (!ours(record)) return false;
        writeRecord(fd, freed(record));
        return true;
      });
      if (released) afterRelease();
      return released;
    },
    isHeld: () =>
      withFileLock(path, (fd) => {
        const record = readRecord<LockRecord>(fd);
        return ours(record) && record.deadline > monotonicNowMs();
      }),
  };
}
