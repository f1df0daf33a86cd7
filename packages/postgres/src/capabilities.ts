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
export const POSTGRES_CAPABILITIES: Capabilities = {
  lock: {
    fencing: 'monotonic',
    lease: 'per-session',
    minTtlMs: POSTGRES_MIN_TTL_MS,
    ttlGranularityMs: 1,
    waiting: 'notify',
    fairness: 'none',
    faultTolerance: 'single-node',
  },
  counter: { supported: true, bounds: true },
};
