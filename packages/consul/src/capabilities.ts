/**
 * What the Consul adapter guarantees, declared truthfully (the conformance suite checks it).
 * @module
 */
import type { Capabilities } from '@lockstep/core';
import { DEFAULT_SESSION_TTL_MIN_MS } from './options.js';

/**
 * Capabilities for servers whose `session_ttl_min` is `sessionTtlMinMs`:
 *
 * - `fencing: 'monotonic'`: the token is the lock key's ModifyIndex, read in the acquiring
 *   transaction. Every grant is a write at a new Raft index, and Raft indexes only grow. (LockIndex
 *   is not used: it restarts when a key is deleted and a plain write resets it.)
 * - `lease: 'per-session'`: a lock lives as long as the coordinator's Consul session for its TTL.
 *   Consul never invalidates a session before its TTL, but may take up to 2 × TTL after the last
 *   renewal to do so: a crashed holder's lock is free between TTL and 2 × TTL after its last
 *   renewal. The holder's own signal aborts at the earliest instant (last renewal sent + TTL).
 * - `minTtlMs`: the server's session TTL minimum (10 s by default), `ttlGranularityMs: 1000`
 *   (TTLs are sent as whole seconds, the form the documentation uses).
 * - `waiting: 'notify'`: waiters block on the key with Consul blocking queries and are woken by
 *   the release; `fairness: 'none'`: every woken waiter tries, any may win.
 * - `faultTolerance: 'replicated'`: Consul servers replicate KV and sessions with Raft.
 * - counters: CAS on ModifyIndex; bounds checked against the value the CAS guards.
 * - semaphores (api/semaphore.go's layout): each permit's lease is its session's, as for locks;
 *   `fencing: 'monotonic'`: the token is `.lock`'s ModifyIndex written by the admitting CAS;
 *   `waiting: 'notify'`: waiters block on the prefix; `fairness: 'fifo'`: contenders queue by
 *   CreateIndex and a permit goes only to a contender with fewer than the free permits ahead of it
 *   (clients of api/semaphore.go itself, at a native prefix, do not queue and may go first);
 *   `mismatch: 'stored'`: the Limit is stored in `.lock` while the semaphore is in use, and a
 *   client declaring another count is refused.
 * - read-write locks (a queue of contenders `<prefix>/rwlock/<name>/<session>`): each grant's lease
 *   is its session's; `fencing: 'monotonic'`: the token is the contender's CreateIndex, written by
 *   the request that queued it; `waiting: 'notify'`: waiters block on the prefix;
 *   `fairness: 'fifo'`: grants follow the queue (CreateIndex) order, readers with no writer ahead
 *   together; `writerProgress: 'queued'`: a waiting writer is ahead of every later reader, which
 *   waits behind it.
 * - elections (Consul's documented leader election: a session acquires the election's key, its
 *   value is the leader's): `fencing: 'monotonic'`: the term is the key's CreateIndex, and every
 *   leadership creates the key; `waiting: 'notify'` and `observe: 'notify'`: candidates and
 *   observers block on the key; `fairness: 'none'`: any woken candidate may win;
 *   `vacancies: true`: a key no session holds (or no key) is a vacancy, and one missed between two
 *   answers of the blocking query is told anyway (two terms mean the key was deleted in between).
 */
export function consulCapabilities(sessionTtlMinMs: number = DEFAULT_SESSION_TTL_MIN_MS): Capabilities {
  const perSession = {
    fencing: 'monotonic',
    lease: 'per-session',
    minTtlMs: sessionTtlMinMs,
    ttlGranularityMs: 1000,
    waiting: 'notify',
    faultTolerance: 'replicated',
  } as const;
  return {
    lock: { ...perSession, fairness: 'none' },
    counter: { supported: true, bounds: true },
    semaphore: { ...perSession, supported: true, fairness: 'fifo', mismatch: 'stored' },
    readWrite: { ...perSession, supported: true, fairness: 'fifo', writerProgress: 'queued' },
    election: { ...perSession, supported: true, fairness: 'none', observe: 'notify', vacancies: true },
  };
}

/** Capabilities against servers with Consul's default `session_ttl_min` (10 s). */
export const CONSUL_CAPABILITIES: Capabilities = consulCapabilities();
