/**
 * Locks and semaphores among processes of one host, as leases in files. A lock is a semaphore
 * of one permit: both drivers are this one algorithm over files of their own directory.
 *
 * A file holds one record: its holders (owner id, pid, fencing token, lease deadline on the
 * host's monotonic clock, declared permit count), the token of the latest grant, and the queue of
 * waiting tickets. Every decision — is there room, is a lease over, is a holder's process dead,
 * whose turn is it, is it still mine — is taken inside a critical section (flock.ts) together
 * with the write that acts on it.
 *
 * - Try: nobody waiting, and fewer holders that still hold than the smallest count declared by
 *   the request and by every holder → write us in with token + 1. One section.
 * - Acquire: the same when nobody waits; otherwise a ticket at the back of the queue, granted
 *   when it reaches the front and fits (room.ts).
 * - A SIGKILLed holder frees its permit as soon as a waiter sees its pid gone; a SIGSTOPped one
 *   keeps it until its lease ends, then loses it to a grant with a larger token, and its own
 *   next renewal finds itself gone.
 * - Release and renewal change the record only if we are still a holder (grant.ts).
 * @module
 */
import type { AcquireRequest, LeaseGrant, LockDriver, LockRef, SemaphoreRef } from '@lockstep/core';
import { monotonicNowMs } from './clock.js';
import { withFileLock } from './flock.js';
import { tellDropped } from './grant.js';
import type { Layout } from './layout.js';
import {
  fits,
  granted,
  type LeaseRecord,
  liveHolders,
  type Ticket,
  ticketCounts,
  withQueue,
} from './queue.js';
import { readRecord, writeRecord } from './record.js';
import { grantAt, waitForTurn } from './room.js';

const NOBODY_WAITS: readonly Ticket[] = [];

/** The lease driver over the files `fileOf` names, each request declaring `permitsOf` its ref. */
class FileLeases<R extends LockRef> implements LockDriver<R> {
  readonly #fileOf: (ref: R) => string;
  readonly #permitsOf: (ref: R) => number;

  constructor(fileOf: (ref: R) => string, permitsOf: (ref: R) => number) {
    this.#fileOf = fileOf;
    this.#permitsOf = permitsOf;
  }

  async tryAcquire(request: AcquireRequest<R>): Promise<LeaseGrant | null> {
    const path = this.#fileOf(request.lock);
    const permits = this.#permitsOf(request.lock);
    return withFileLock(path, (fd) => {
      const before = performance.now();
      const record = readRecord<LeaseRecord>(fd);
      const now = monotonicNowMs();
      const holders = liveHolders(record, now);
      if (!fits(holders, permits)) return null;
      const queue = record?.queue;
      const waiting =
        queue === undefined ? NOBODY_WAITS : queue.filter((ticket) => ticketCounts(ticket, now));
      if (waiting.length > 0) {
        // Room, but promised to the first waiter. Drop what no longer counts while here.
        if (waiting.length !== record!.queue!.length) writeRecord(fd, withQueue(record!, waiting));
        return null;
      }
      const next = granted(record, holders, request, permits, now, waiting);
      writeRecord(fd, next);
      tellDropped(record, holders);
      return grantAt(path, next, request.ownerId, request.ttlMs, before);
    });
  }

  acquire(request: AcquireRequest<R>, signal: AbortSignal): Promise<LeaseGrant> {
    return waitForTurn(this.#fileOf(request.lock), request, this.#permitsOf(request.lock), signal);
  }
}

/** The lock driver over one layout: one permit per lock. */
export function fileLocks(layout: Layout): LockDriver {
  return new FileLeases<LockRef>(
    (ref) => layout.lockFile(ref),
    () => 1,
  );
}

/** The semaphore driver over one layout: each request declares its own permit count. */
export function fileSemaphores(layout: Layout): LockDriver<SemaphoreRef> {
  return new FileLeases<SemaphoreRef>(
    (ref) => layout.semaphoreFile(ref),
    (ref) => ref.permits,
  );
}
