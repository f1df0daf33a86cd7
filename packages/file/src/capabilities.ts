/**
 * What file:// guarantees, as the conformance suite checks it.
 * @module
 */
import type { Capabilities } from '@lockstep/core';

/** What file:// guarantees. */
export const FILE_CAPABILITIES: Capabilities = {
  lock: {
    // Tokens live in the lock file and only grow; they survive process crashes (not the
    // loss of the file system itself).
    fencing: 'monotonic',
    lease: 'per-lock',
    minTtlMs: 50,
    ttlGranularityMs: 1,
    waiting: 'notify',
    // Waiters hold tickets in the lock record and are granted in arrival order, across processes.
    fairness: 'fifo',
    faultTolerance: 'single-node',
  },
  counter: { supported: true, bounds: true },
};
