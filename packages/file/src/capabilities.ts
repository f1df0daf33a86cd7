/**
 * What file:// guarantees, as the conformance suite checks it.
 * @module
 */
import type { Capabilities, LockCapabilities } from '@lockstep/core';

/**
 * What each lock, each permit of a semaphore, each read or write grant and each leadership
 * guarantees: all of them are one algorithm.
 */
const LEASE: LockCapabilities = {
  // Tokens live in the record and only grow; they survive process crashes (not the loss of
  // the file system itself).
  fencing: 'monotonic',
  lease: 'per-lock',
  minTtlMs: 50,
  ttlGranularityMs: 1,
  waiting: 'notify',
  // Waiters hold tickets in the record and are granted in arrival order, across processes.
  fairness: 'fifo',
  faultTolerance: 'single-node',
};

/** What file:// guarantees. */
export const FILE_CAPABILITIES: Capabilities = {
  lock: LEASE,
  // Every holder's declared count is in the record, so a grant can respect the smallest.
  semaphore: { supported: true, ...LEASE, mismatch: 'smallest' },
  // Readers that come after a waiting writer queue behind its ticket.
  readWrite: { supported: true, ...LEASE, writerProgress: 'queued' },
  // Observers hear of every write through the directory watch, and of a lease that ended or a
  // leader that died through a re-read: the record says when nobody leads.
  election: { supported: true, ...LEASE, observe: 'notify', vacancies: true },
  counter: { supported: true, bounds: true },
};
