/**
 * What `redis://` and `redlock://` guarantee, with the reason for each value.
 * @module
 */
import type { Capabilities } from '@lockstep/core';

/**
 * Smallest lease accepted. Redis itself takes `PX 1`, but a lease shorter than a few
 * round trips cannot be renewed in time, and Redlock subtracts 2 ms of clock drift from
 * every lease, so shorter TTLs are rejected before any I/O.
 */
export const REDIS_MIN_TTL_MS = 10;

/**
 * `redis://` and `rediss://` — one Redis server.
 *
 * - fencing `monotonic`: the acquire script INCRs a per-name counter in the same atomic step
 *   as the SET, so tokens strictly increase across grants; a fresh counter starts from the
 *   server clock in µs, so they keep increasing across a restart that lost the data (unless
 *   the server clock stepped back).
 * - lease `per-lock`: each lock key has its own PX expiry, renewed by compare-then-PEXPIRE.
 * - waiting `notify`: releases PUBLISH; waiters listen on one subscriber connection and
 *   re-check no later than the holder's lease end.
 * - fairness `none`: no queue. A release while other coordinators wait reserves the lock for
 *   them for a moment (handoff), so the releaser cannot take it straight back, but which
 *   waiter wins is a race.
 * - faultTolerance `single-node`: if that server restarts without persistence (or fails
 *   over to a replica that missed the write), a second holder can appear. Fencing tokens
 *   and `handle.signal` are the defence, not the lock alone.
 * - semaphores: each permit is fenced (the token counter INCR'd in the grant's script, floored
 *   at the server clock like the lock's), leased per permit (an entry scored by its deadline,
 *   dropped by the next script once it passed), notify-based and `fifo` — waiters queue on the
 *   server and a free permit goes to the head; among waiters declaring different counts, one
 *   that fits may pass a head that does not. `mismatch: 'smallest'`: a permit is granted only
 *   while the holders are fewer than the smallest count declared by the requester and every
 *   holder. At a native location (redis-semaphore's key) there is no queue (fairness is a
 *   race) and each client admits by its own count, as redis-semaphore does.
 * - counters with atomic bounds: one Lua script checks and INCRBYs. Atomic, but no more
 *   durable than the server's data: the same restart (or failover) sets a counter back — to 0
 *   when its key is gone — so increments acknowledged before it are lost and later increments
 *   return values already returned (in one run, 13,188 acknowledged increments left a final
 *   value of 2,958). Run Redis with AOF `appendfsync always` where a counter must never go
 *   back. `Capabilities` has no field to say this yet; it is stated here and in the README.
 */
export const REDIS_CAPABILITIES: Capabilities = {
  lock: {
    fencing: 'monotonic',
    lease: 'per-lock',
    minTtlMs: REDIS_MIN_TTL_MS,
    ttlGranularityMs: 1,
    waiting: 'notify',
    fairness: 'none',
    faultTolerance: 'single-node',
  },
  semaphore: {
    supported: true,
    fencing: 'monotonic',
    lease: 'per-lock',
    minTtlMs: REDIS_MIN_TTL_MS,
    ttlGranularityMs: 1,
    waiting: 'notify',
    fairness: 'fifo',
    faultTolerance: 'single-node',
    mismatch: 'smallest',
  },
  counter: { supported: true, bounds: true },
};

/**
 * Why `redlock://` has no semaphores. Counting on a majority of independent servers does not
 * bound the holders: each server admits at most K, but K + 1 clients can each hold a different
 * majority — with 3 servers and 2 permits, clients on servers {1,2}, {2,3} and {1,3} are three
 * holders while every server counts two. A majority is safe only when (K + 1)·majority > N·K,
 * which for K ≥ 2 on 3 servers means all of them (no fault tolerance left); anything else needs
 * one agreed order of grants, i.e. consensus.
 */
export const REDLOCK_SEMAPHORE_REASON =
  'a majority of independent servers cannot count holders: with 3 servers and 2 permits, three clients can each hold a different pair of servers while every server counts only two; use redis:// (one server) or a consensus backend (etcd, ZooKeeper, Consul)';

/**
 * `redlock://h1:p1,h2:p2,h3:p3` — the Redlock algorithm over N independent servers.
 *
 * - fencing `none`: a token that strictly increases across grants needs one agreed order
 *   of grants, i.e. consensus. Redlock has none: each instance counts for itself, two
 *   quorums share only some instances, and an instance that restarts forgets. Any token
 *   built from per-instance counters (or clocks) can repeat or go backwards across grants,
 *   so lockstep gives none rather than one that looks safe. Use etcd, ZooKeeper, Consul or
 *   PostgreSQL when the protected resource needs fencing.
 * - lease `per-lock`, validity `ttl − elapsed − (0.01·ttl + 2 ms)`, measured per attempt.
 * - faultTolerance `quorum`: floor(N/2)+1 instances must agree; fewer live instances →
 *   `BackendUnavailableError`.
 * - counters unsupported: a counter needs one authoritative value; across independent
 *   instances there is none (`UnsupportedError`).
 * - semaphores unsupported: see {@link REDLOCK_SEMAPHORE_REASON}.
 */
export const REDLOCK_CAPABILITIES: Capabilities = {
  lock: {
    fencing: 'none',
    lease: 'per-lock',
    minTtlMs: REDIS_MIN_TTL_MS,
    ttlGranularityMs: 1,
    waiting: 'notify',
    fairness: 'none',
    faultTolerance: 'quorum',
  },
  semaphore: { supported: false, reason: REDLOCK_SEMAPHORE_REASON },
  counter: { supported: false, bounds: false },
};
