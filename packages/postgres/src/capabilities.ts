/**
 * What the PostgreSQL adapter guarantees, as checked by the conformance suite.
 * @module
 */
import type { Capabilities } from '@lockstep/core';

/** Shortest TTL accepted: the health check (and keepalive) runs at about a third of it. */
export const POSTGRES_MIN_TTL_MS = 1_000;

/**
 * - `fencing: 'monotonic'`: the token is drawn from one sequence in the same statement that
 *   takes the lock, so it is larger than every token issued before, for any name (sequences
 *   never go back, restarts included).
 * - `lease: 'per-session'`: a session advisory lock lives as long as its connection. The TTL
 *   bounds how long loss detection takes (health check at ~ttl/3), and with
 *   `idleSessionTimeout` the server also ends a session that stays silent for a TTL.
 * - `waiting: 'notify'`: waiters sleep in PostgreSQL's lock queue and are woken by the release.
 * - `fairness: 'none'`: the server's queue is FIFO, but only for waiters blocked in it, and a
 *   place in it costs a connection. A coordinator puts one waiter per lock there (its later
 *   local waiters line up behind it, in order, and enter when it is granted) and at most
 *   `maxWaitingSessions` in all (the rest re-try with backoff): a waiter of another coordinator
 *   that arrived later can be served first. FIFO across coordinators would take a connection
 *   per waiter, or a queue of tickets in a table beside the server's (see the README).
 * - `faultTolerance: 'single-node'`: locks live in one server's memory; a failover to a replica
 *   loses them.
 */
const LOCK = {
  fencing: 'monotonic',
  lease: 'per-session',
  minTtlMs: POSTGRES_MIN_TTL_MS,
  ttlGranularityMs: 1,
  waiting: 'notify',
  fairness: 'none',
  faultTolerance: 'single-node',
} as const;

/**
 * The other primitives ride on the same sessions, with the same lease, fencing and fault
 * tolerance:
 *
 * - `semaphore`: a permit is one of K slot keys. `waiting: 'notify'`: waiters line up in the
 *   server's queue for a head key, and a release notifies the semaphore's channel
 *   (LISTEN/NOTIFY), which only the head re-tries on; `fairness: 'none'`: a coordinator's
 *   waiters join that line one at a time, so the order is FIFO among heads, not all waiters. `mismatch: 'stored'`: the
 *   first holder's count holds while the semaphore is in use; another count is refused.
 * - `readWrite`: PostgreSQL's shared and exclusive advisory locks on one key, waiting in the
 *   server's queue. `writerProgress: 'queued'`: a writer waiting there holds back every later
 *   reader — blocking requests queue behind it, and `pg_try_advisory_lock_shared` is refused
 *   while it waits (measured: see the README). A writer past `maxWaitingSessions` concurrent
 *   waits of its coordinator re-tries until a waiting connection frees, and is only queued
 *   from then on.
 * - `election`: leading is holding the election's lock; `observe: 'notify'` (LISTEN/NOTIFY on
 *   every change, with a re-read each second), `vacancies: true` (a resignation is notified, and
 *   a leader whose connection ended is seen gone by the next re-read).
 */
export const POSTGRES_CAPABILITIES: Capabilities = {
  lock: LOCK,
  counter: { supported: true, bounds: true },
  semaphore: { ...LOCK, supported: true, mismatch: 'stored' },
  readWrite: { ...LOCK, supported: true, writerProgress: 'queued' },
  election: { ...LOCK, supported: true, observe: 'notify', vacancies: true },
};
