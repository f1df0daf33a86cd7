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
 * - `fairness: 'fifo'`: that queue grants in arrival order and a newcomer's try-lock cannot
 *   barge past queued waiters (beyond `maxWaitingSessions` waits per coordinator, the extra
 *   waiters re-try with backoff instead; see the README).
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
    fairness: 'fifo',
    faultTolerance: 'single-node',
  },
  counter: { supported: true, bounds: true },
};
