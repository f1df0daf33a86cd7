/**
 * What `etcd://` guarantees, with the reason for each value.
 * @module
 */
import type { Capabilities } from '@lockstep/core';

/**
 * Smallest lease accepted: 2 s. etcd grants leases in whole seconds and raises any shorter
 * request to its own minimum, `ceil(1.5 × election timeout)` — 2 s with the default 1 s
 * election timeout. A cluster configured with a longer election timeout grants longer
 * leases than asked for; that only delays freeing the locks of a crashed holder.
 */
export const ETCD_MIN_TTL_MS = 2_000;

/** etcd lease TTLs are whole seconds; lockstep rounds TTLs up to the next second. */
export const ETCD_TTL_GRANULARITY_MS = 1_000;

/**
 * `etcd://h1:p1[,h2:p2,...]`
 *
 * - fencing `monotonic`: the token is the create revision of the contender's own key. etcd's
 *   revision is one cluster-wide, raft-ordered counter, the queue grants in create-revision
 *   order, and a key that appears after the holder's always has a larger revision — so each
 *   grant's token is larger than every earlier grant's.
 * - lease `per-session`: all locks of a coordinator with the same TTL share one etcd lease,
 *   kept alive at about TTL/3; the lock lives as long as that lease (and its key) does.
 *   `ttlMs` bounds how long loss goes unnoticed, not how long a lock may be held.
 * - waiting `notify`: a waiter watches only the key just ahead of it in the queue and is
 *   woken by its delete event (with a bounded fallback re-check).
 * - fairness `fifo`: grants go in create-revision order, i.e. the order the contenders'
 *   enqueue transactions were committed.
 * - faultTolerance `replicated`: every lock and counter operation is a linearizable raft
 *   read or write; losing a minority of members loses nothing.
 * - counters with atomic bounds: a compare-and-swap on the key's mod revision, checked
 *   against the value the comparison guards.
 *
 * Semaphores, read-write locks and elections are the same queue of keys on the same leases, so
 * each of their grants has every lock guarantee above (its token is its own key's create
 * revision):
 * - semaphore, mismatch `smallest`: each key holds the count its client declared, and a permit is
 *   granted only while the keys ahead of it are fewer than the smallest of those counts and its
 *   own; FIFO in create-revision order.
 * - read-write, writerProgress `queued`: a reader holds once no writer older than it is left, so
 *   a waiting writer holds back every later reader.
 * - election, observe `notify` (one watch of the candidates' prefix, applied event by event),
 *   vacancies reported (`null` once the last candidate is gone).
 */
const QUEUED_GRANT = {
  fencing: 'monotonic',
  lease: 'per-session',
  minTtlMs: ETCD_MIN_TTL_MS,
  ttlGranularityMs: ETCD_TTL_GRANULARITY_MS,
  waiting: 'notify',
  fairness: 'fifo',
  faultTolerance: 'replicated',
} as const;

export const ETCD_CAPABILITIES: Capabilities = {
  lock: QUEUED_GRANT,
  counter: { supported: true, bounds: true },
  semaphore: { supported: true, ...QUEUED_GRANT, mismatch: 'smallest' },
  readWrite: { supported: true, ...QUEUED_GRANT, writerProgress: 'queued' },
  election: { supported: true, ...QUEUED_GRANT, observe: 'notify', vacancies: true },
};
