/**
 * Locks, semaphores and read-write locks among processes of one host, as leases in files. They
 * are one algorithm over files of their own directory, with a different claim per request: a
 * lock asks for one permit, a semaphore's client for one of the permits it declares, a read-write
 * lock's client for its read or its write side.
 *
 * A file holds one record: its holders (owner id, pid, fencing token, lease deadline on the
 * host's monotonic clock, the claim granted), the token of the latest grant, and the queue of
 * waiting tickets. Every decision — does the claim fit, is a lease over, is a holder's process
 * dead, whose turn is it, is it still mine — is taken inside a critical section (flock.ts)
 * together with the write that acts on it.
 *
 * - Try: nobody waiting, and the claim fits beside the holders that still hold (fewer than the
 *   smallest declared count; for a read, no writer; for a write, nobody) → write us in with
 *   token + 1. One section.
 * - Acquire: the same when nobody waits; otherwise a ticket at the back of the queue, granted
 *   when it reaches the front and fits (room.ts). A waiting writer therefore holds back every
 *   reader that comes after it.
 * - A SIGKILLed holder frees its place as soon as a waiter sees its pid gone; a SIGSTOPped one
 *   keeps it until its lease ends, then loses it to a grant with a larger token, and its own
 *   next renewal finds itself gone.
 * - Release and renewal change the record only if we are still a holder (grant.ts).
 * @module
 */
import type { HolderInfo } from '@lockstep/core';
import type {
  AcquireRequest,
  LeaseGrant,
  LockDriver,
  LockRef,
  ReadWriteRef,
  SemaphoreRef,
} from '@lockstep/core/driver';
import { monotonicNowMs } from './clock.js';
import { withExistingFileLock, withFileLock } from './flock.js';
import { tellDropped } from './grant.js';
import type { Layout } from './layout.js';
import {
  type Claim,
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

/** The lease driver over the files `fileOf` names, each request asking for `claimOf` its ref. */
export class FileLeases<R extends LockRef> implements LockDriver<R> {
  readonly #fileOf: (ref: R) => string;
  readonly #claimOf: (ref: R) => Claim;

  constructor(fileOf: (ref: R) => string, claimOf: (ref: R) => Claim) {
    this.#fileOf = fileOf;
    this.#claimOf = claimOf;
  }

  async tryAcquire(request: AcquireRequest<R>): Promise<LeaseGrant | null> {
    const path = this.#fileOf(request.lock);
    const claim = this.#claimOf(request.lock);
    return withFileLock(path, (fd) => {
      const before = performance.now();
      const record = readRecord<LeaseRecord>(fd);
      const now = monotonicNowMs();
      const holders = liveHolders(record, now);
      if (!fits(holders, claim)) return null;
      const queue = record?.queue;
      const waiting =
        queue === undefined ? NOBODY_WAITS : queue.filter((ticket) => ticketCounts(ticket, now));
      if (waiting.length > 0) {
        // Room, but promised to the first waiter. Drop what no longer counts while here.
        if (waiting.length !== record!.queue!.length) writeRecord(fd, withQueue(record!, waiting));
        return null;
      }
      const next = granted(record, holders, request, claim, now, waiting);
      writeRecord(fd, next);
      tellDropped(record, holders);
      return grantAt(path, next, request.ownerId, request.ttlMs, before);
    });
  }

  acquire(request: AcquireRequest<R>, signal: AbortSignal): Promise<LeaseGrant> {
    return waitForTurn(this.#fileOf(request.lock), request, this.#claimOf(request.lock), signal);
  }

  /**
   * The holders that still hold (lease left on the host's monotonic clock) and the tickets that
   * still count, read in a section that creates nothing for a name never used.
   */
  async inspect(ref: R): Promise<{ holders: HolderInfo[]; waiting: number }> {
    const seen = await withExistingFileLock(this.#fileOf(ref), (fd) => ({
      record: readRecord<LeaseRecord>(fd),
      now: monotonicNowMs(),
    }));
    if (seen === undefined) return { holders: [], waiting: 0 };
    const { record, now } = seen;
    return {
      holders: liveHolders(record, now).map((holder) => ({
        owner: holder.owner,
        fencingToken: BigInt(holder.token),
        leftMs: Math.max(0, Math.floor(holder.deadline - now)),
      })),
      waiting: (record?.queue ?? []).filter((ticket) => ticketCounts(ticket, now)).length,
    };
  }
}

const ONE_PERMIT: Claim = { permits: 1 };
const READ: Claim = { mode: 'read' };
const WRITE: Claim = { mode: 'write' };

/** The lock driver over one layout: one permit per lock. */
export function fileLocks(layout: Layout): LockDriver {
  return new FileLeases<LockRef>(
    (ref) => layout.lockFile(ref),
    () => ONE_PERMIT,
  );
}

/** The semaphore driver over one layout: each request declares its own permit count. */
export function fileSemaphores(layout: Layout): LockDriver<SemaphoreRef> {
  return new FileLeases<SemaphoreRef>(
    (ref) => layout.semaphoreFile(ref),
    (ref) => ({ permits: ref.permits }),
  );
}

/** The read-write lock driver over one layout: each request claims its side. */
export function fileReadWriteLocks(layout: Layout): LockDriver<ReadWriteRef> {
  return new FileLeases<ReadWriteRef>(
    (ref) => layout.rwlockFile(ref),
    (ref) => (ref.mode === 'read' ? READ : WRITE),
  );
}
