/**
 * Locks among processes of one host, as leases in files.
 *
 * A lock file holds one record: the owner's id and pid, the fencing token of the latest
 * grant, the lease deadline on the host's monotonic clock, and the queue of waiting tickets.
 * Every decision — is it free, is the lease over, is the holder's process dead, whose turn is
 * it, is it still mine — is taken inside a critical section (flock.ts) together with the
 * write that acts on it.
 *
 * - Try: free (no holder, lease over, or holder's process gone) and nobody waiting → write us
 *   in with token + 1. One section.
 * - Acquire: the same when nobody waits; otherwise a ticket at the back of the queue, granted
 *   when it reaches the front (room.ts).
 * - A SIGKILLed holder frees the lock as soon as a waiter sees its pid gone; a SIGSTOPped one
 *   keeps it until its lease ends, then loses it to a grant with a larger token, and its own
 *   next renewal finds another owner.
 * - Release and renewal change the record only if we are still its owner (grant.ts).
 * @module
 */
import type { AcquireRequest, LeaseGrant, LockDriver } from '@lockstep/core';
import { monotonicNowMs } from './clock.js';
import { withFileLock } from './flock.js';
import type { Layout } from './layout.js';
import { granted, isHeld, type LockRecord, ticketCounts, withQueue } from './queue.js';
import { readRecord, writeRecord } from './record.js';
import { grantAt, waitForTurn } from './room.js';

/** The lock driver over one layout. */
export class FileLocks implements LockDriver {
  readonly #layout: Layout;

  constructor(layout: Layout) {
    this.#layout = layout;
  }

  async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
    const path = this.#layout.lockFile(request.lock);
    return withFileLock(path, (fd) => {
      const before = performance.now();
      const record = readRecord<LockRecord>(fd);
      const now = monotonicNowMs();
      if (isHeld(record, now)) return null;
      const waiting = (record?.queue ?? []).filter((ticket) => ticketCounts(ticket, now));
      if (waiting.length > 0) {
        // Free but promised to the first waiter. Drop what no longer counts while here.
        if (waiting.length !== record!.queue!.length) writeRecord(fd, withQueue(record!, waiting));
        return null;
      }
      const next = granted(record, request, now, []);
      writeRecord(fd, next);
      return grantAt(path, next, request.ttlMs, before);
    });
  }

  acquire(request: AcquireRequest, signal: AbortSignal): Promise<LeaseGrant> {
    return waitForTurn(this.#layout.lockFile(request.lock), request, signal);
  }

  close(): void {}
}
