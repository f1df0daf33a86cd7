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

/** What each grant of a queued lease (a permit, a read or write grant, a leadership) is on one server. */
const QUEUED_LEASE = {
  fencing: 'monotonic',
  lease: 'per-lock',
  minTtlMs: REDIS_MIN_TTL_MS,
  ttlGranularityMs: 1,
  waiting: 'notify',
  fairness: 'fifo',
  faultTolerance: 'single-node',
} as const;

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
 *   server, a free permit goes to the head, and nobody passes a waiter that does not fit.
 *   `mismatch: 'smallest'`: a permit is granted only while the holders and the waiters ahead
 *   of it are fewer than the smallest count declared by the requester, every holder and every
 *   waiter ahead. At a native location (redis-semaphore's key) there is no queue (fairness is a
 *   race) and each client admits by its own count, as redis-semaphore does.
 * - read-write locks: the semaphore's queued lease, a writer declaring 1 and a reader more than
 *   any count of holders, so every grant (read or write) has its own lease and its own token
 *   from one counter (`monotonic`), waiters are woken by name (`notify`) in arrival order
 *   (`fifo`), and a reader that comes after a waiting writer queues behind it
 *   (`writerProgress: 'queued'`).
 * - elections: the same queue with every candidate declaring 1; the term is the grant's token
 *   (`monotonic`). Observers are told of grants, proclaims and releases by pub/sub (`notify`);
 *   a lease that lapses publishes nothing, so each observer re-reads when the lease it last
 *   heard of ends and tells the vacancy then (`vacancies: true`).
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
    ...QUEUED_LEASE,
    mismatch: 'smallest',
  },
  readWrite: {
    supported: true,
    ...QUEUED_LEASE,
    writerProgress: 'queued',
  },
  election: {
    supported: true,
    ...QUEUED_LEASE,
    observe: 'notify',
    vacancies: true,
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
 * Why `redlock://` has no read-write locks. What keeps a stream of readers from starving a
 * writer is the writer's place in a queue that later readers wait behind; independent servers
 * keep independent queues, so two writers can each be first on a different server and hold
 * each other (and every reader) back. Without that queue writers could starve.
 */
export const REDLOCK_READ_WRITE_REASON =
  'a waiting writer holds back later readers by its place in a queue, and independent servers keep independent queues: two writers first on different servers would hold each other back; use redis:// (one server) or a consensus backend (etcd, ZooKeeper, Consul)';

/**
 * Why `redlock://` has no elections. An election's term is a fencing token that strictly
 * increases across leaders, which needs one agreed order of grants (consensus); Redlock's
 * instances each count for themselves (see {@link REDLOCK_CAPABILITIES}).
 */
export const REDLOCK_ELECTION_REASON =
  "an election's term must strictly increase across leaders, which needs one agreed order of grants, and independent servers each count for themselves; use redis:// (one server) or a consensus backend (etcd, ZooKeeper, Consul)";

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
 * - semaphores unsupported: see {@link REDLOCK_SEMAPHORE_REASON}; read-write locks: see
 *   {@link REDLOCK_READ_WRITE_REASON}; elections: see {@link REDLOCK_ELECTION_REASON}.
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
  readWrite: { supported: false, reason: REDLOCK_READ_WRITE_REASON },
  election: { supported: false, reason: REDLOCK_ELECTION_REASON },
  counter: { supported: false, bounds: false },
};
