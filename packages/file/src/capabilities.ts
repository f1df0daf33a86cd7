/**
 * What file:// guarantees, as the conformance suite checks it.
 * @module
 */
import type { Capabilities, LockCapabilities } from '@lockstep/core';

/** What each lock, and each permit of a semaphore, guarantees: both are one algorithm. */
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
  counter: { supported: true, bounds: true },
};
