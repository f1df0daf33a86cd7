/**
 * What `zookeeper://` guarantees, with the reason for each value.
 * @module
 */
import type { Capabilities } from '@lockstep/core';

/**
 * Smallest TTL accepted: 1 s. With a per-session lease the session keeps the lock; the TTL only
 * bounds a pure lease (`autoExtend: false`) and an `extend()`'s check of the node, and a
 * shorter one would promise more than the session (at least 2 server ticks) can keep.
 */
export const ZOOKEEPER_MIN_TTL_MS = 1_000;

/**
 * `zookeeper://h1:p1[,h2:p2,...][/chroot]`
 *
 * - fencing `monotonic`: the token is the czxid of the contender's own node. zxids are one
 *   ensemble-wide, totally ordered counter; a lock is granted in queue (creation) order, and a
 *   node created after the previous holder's has a larger czxid — so each grant's token is
 *   larger than every earlier grant's. (Not the sequence suffix: it is a per-queue 32-bit
 *   counter that wraps, and restarts when the queue node is recreated.)
 * - lease `per-session`: a lock is an ephemeral node; it lives exactly as long as the
 *   coordinator's ZooKeeper session. The session timeout (`sessionTimeoutMs`) is how long a
 *   crashed or partitioned holder keeps a lock, and how long the holder itself may take to
 *   notice a loss (its trust window); `ttlMs` bounds only a pure lease.
 * - waiting `notify`: a waiter watches only the node just ahead of it and is woken by its
 *   deletion (with a slow fallback re-check).
 * - fairness `fifo`: grants go in queue order, i.e. the order the contenders' creates were
 *   committed.
 * - faultTolerance `replicated`: every write goes through ZooKeeper's quorum (ZAB); losing a
 *   minority of servers loses nothing.
 * - counters with atomic bounds: a compare-and-swap on the node's version, checked against
 *   the value the comparison guards; reads confirmed through the leader (linearizable).
 *
 * Semaphores, read-write locks and elections are the same queue of ephemeral nodes, so each of
 * their grants has every lock guarantee above (the token is the czxid of the grant's own node):
 * - semaphore, mismatch `smallest`: each lease stores the count its client declared, and a
 *   permit is granted only while the leases are no more than the smallest of them; FIFO through
 *   the turnstile every acquirer takes its turn at.
 * - read-write, writerProgress `queued`: a reader holds only when no writer is ahead of it in
 *   the queue, so a waiting writer holds back every later reader.
 * - election, observe `notify` (watches on the candidates and on the leader's node), vacancies
 *   reported (`null` when no candidate stands).
 */
const PER_SESSION_GRANT = {
  fencing: 'monotonic',
  lease: 'per-session',
  minTtlMs: ZOOKEEPER_MIN_TTL_MS,
  ttlGranularityMs: 1,
  waiting: 'notify',
  fairness: 'fifo',
  faultTolerance: 'replicated',
} as const;

export const ZOOKEEPER_CAPABILITIES: Capabilities = {
  lock: PER_SESSION_GRANT,
  counter: { supported: true, bounds: true },
  semaphore: { supported: true, ...PER_SESSION_GRANT, mismatch: 'smallest' },
  readWrite: { supported: true, ...PER_SESSION_GRANT, writerProgress: 'queued' },
  election: { supported: true, ...PER_SESSION_GRANT, observe: 'notify', vacancies: true },
};
