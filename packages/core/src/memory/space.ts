/**
 * The state behind `memory://NAME`: one process-wide space per NAME, so several
 * coordinators (the suite's "clients") can contend on the same locks, semaphores and counters.
 *
 * This is the reference semantics every other backend is measured against: leases expire
 * on a timer, waiters queue in FIFO order, tokens never repeat within a name.
 *
 * Locks, semaphores and read-write locks are one algorithm: an entry holds its current holders
 * and a FIFO queue, and the first waiter is granted as soon as it fits — nobody behind it goes
 * first. A permit fits while the holders are fewer than the smallest count declared by it and
 * by every holder (the `smallest` mismatch rule; a lock is one permit); a read fits while no
 * writer holds; a write fits when nobody holds. So a waiting writer holds back every reader that
 * came after it.
 * @module
 */

import { applyDelta } from '../bounds.js';
import type { AddOutcome, CounterRef } from '../driver.js';
import { LockLostError } from '../errors.js';
import { LossFlag } from '../loss.js';

/**
 * What a request asks for: `permits` of a semaphore (1 for a lock), or one side of a
 * read-write lock.
 */
export type Claim =
  | { readonly permits: number; readonly value?: string }
  | { readonly mode: 'read' | 'write' };

/** An election's leader as observers see it. */
export interface LeaderState {
  readonly value: string;
  readonly term: bigint;
}

/** One granted lock, permit or read-write grant. */
export interface Holder {
  readonly owner: string;
  readonly token: bigint;
  readonly lost: LossFlag;
  readonly claim: Claim;
  /** An election leader's proclaimed value. */
  value: string;
  expiresAt: number;
  timer: NodeJS.Timeout;
}

interface Waiter {
  readonly owner: string;
  readonly ttlMs: number;
  readonly claim: Claim;
  readonly grant: (holder: Holder) => void;
}

interface Entry {
  /** The lock's or semaphore's name, for loss messages. */
  readonly name: string;
  readonly holders: Map<string, Holder>;
  readonly queue: Waiter[];
  lastToken: bigint;
  /** Observers of an election: told of every change of its (single) holder or value. */
  watchers?: Set<(leader: LeaderState | null) => void>;
  /** What observers heard last, so a change is told once (a release that hands over is one change). */
  told?: LeaderState | null;
}

/** One named in-process backend. */
export class MemorySpace {
  readonly #entries = new Map<string, Entry>();
  readonly #counters = new Map<string, number>();

  /** Grants `claim` on `key` to `owner` now if it fits and nobody queues; else `undefined`. */
  tryAcquire(key: string, name: string, owner: string, ttlMs: number, claim: Claim): Holder | undefined {
    const entry = this.#entry(key, name);
    if (entry.queue.length > 0 || !fits(entry, claim)) return undefined;
    return this.#grant(key, entry, owner, ttlMs, claim);
  }

  /**
   * Queues for `key`; `onGrant` runs when it is ours. Returns a function that leaves the
   * queue (true when we were still queued, false when the grant already happened).
   */
  enqueue(
    key: string,
    name: string,
    owner: string,
    ttlMs: number,
    claim: Claim,
    onGrant: (holder: Holder) => void,
  ): () => boolean {
    const immediate = this.tryAcquire(key, name, owner, ttlMs, claim);
    if (immediate) {
      onGrant(immediate);
      return () => false;
    }
    const entry = this.#entry(key, name);
    const waiter: Waiter = { owner, ttlMs, claim, grant: onGrant };
    entry.queue.push(waiter);
    return () => {
      const i = entry.queue.indexOf(waiter);
      if (i < 0) return false;
      entry.queue.splice(i, 1);
      // The head left: the next one may fit where it did not (readers behind a writer).
      if (i === 0) this.#handOver(key, entry);
      return true;
    };
  }

  /** Pushes the lease out if `owner` holds `key`. */
  renew(key: string, owner: string, ttlMs: number): boolean {
    const holder = this.#entries.get(key)?.holders.get(owner);
    if (!holder) return false;
    holder.expiresAt = Date.now() + ttlMs;
    clearTimeout(holder.timer);
    holder.timer = this.#expiryTimer(key, holder, ttlMs);
    return true;
  }

  /** Releases `key` if `owner` holds it, and hands the permit to the next waiter. */
  release(key: string, owner: string): boolean {
    const entry = this.#entries.get(key);
    const holder = entry?.holders.get(owner);
    if (!entry || !holder) return false;
    clearTimeout(holder.timer);
    entry.holders.delete(owner);
    this.#handOver(key, entry);
    this.#notify(entry);
    return true;
  }

  /** Proclaims `value` if `owner` still leads the election `key`. */
  proclaim(key: string, owner: string, value: string): boolean {
    const entry = this.#entries.get(key);
    const holder = entry?.holders.get(owner);
    if (!entry || !holder) return false;
    holder.value = value;
    this.#notify(entry);
    return true;
  }

  /** The leader of election `key`, or `null`. */
  leader(key: string): LeaderState | null {
    const entry = this.#entries.get(key);
    return entry ? leaderOf(entry) : null;
  }

  /** Tells `onChange` the current leader now and every change after; returns the unwatch. */
  watch(key: string, name: string, onChange: (leader: LeaderState | null) => void): () => void {
    const entry = this.#entry(key, name);
    entry.watchers ??= new Set();
    entry.watchers.add(onChange);
    entry.told = leaderOf(entry);
    onChange(entry.told);
    return () => entry.watchers?.delete(onChange);
  }

  /** The holders of `key` and how many wait (for inspection). */
  inspect(key: string): {
    holders: Array<{ owner: string; fencingToken: bigint; leftMs: number }>;
    waiting: number;
  } {
    const entry = this.#entries.get(key);
    const now = Date.now();
    return {
      holders: [...(entry?.holders.values() ?? [])].map((h) => ({
        owner: h.owner,
        fencingToken: h.token,
        leftMs: Math.max(0, h.expiresAt - now),
      })),
      waiting: entry?.queue.length ?? 0,
    };
  }

  isHeldBy(key: string, owner: string): boolean {
    return this.#entries.get(key)?.holders.has(owner) ?? false;
  }

  counterGet(key: string): number {
    return this.#counters.get(key) ?? 0;
  }

  counterAdd(key: string, delta: number, bounds: CounterRef): AddOutcome {
    const outcome = applyDelta(this.counterGet(key), delta, bounds);
    if (outcome.ok) this.#counters.set(key, outcome.value);
    return outcome;
  }

  counterSet(key: string, value: number): void {
    this.#counters.set(key, value);
  }

  counterCompareAndSet(key: string, expected: number, next: number): boolean {
    if (this.counterGet(key) !== expected) return false;
    this.#counters.set(key, next);
    return true;
  }

  #entry(key: string, name: string): Entry {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { name, holders: new Map(), queue: [], lastToken: 0n };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  #grant(key: string, entry: Entry, owner: string, ttlMs: number, claim: Claim): Holder {
    entry.lastToken += 1n;
    const holder: Holder = {
      owner,
      token: entry.lastToken,
      lost: new LossFlag(),
      claim,
      value: 'value' in claim ? (claim.value ?? '') : '',
      expiresAt: Date.now() + ttlMs,
      timer: undefined as unknown as NodeJS.Timeout,
    };
    holder.timer = this.#expiryTimer(key, holder, ttlMs);
    entry.holders.set(owner, holder);
    this.#notify(entry);
    return holder;
  }

  #notify(entry: Entry): void {
    if (!entry.watchers?.size) return;
    const leader = leaderOf(entry);
    const told = entry.told;
    if (told !== undefined && told?.term === leader?.term && told?.value === leader?.value) return;
    entry.told = leader;
    for (const watcher of [...entry.watchers]) watcher(leader);
  }

  #expiryTimer(key: string, holder: Holder, ttlMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const entry = this.#entries.get(key);
      if (entry?.holders.get(holder.owner) !== holder) return;
      entry.holders.delete(holder.owner);
      holder.lost.abort(new LockLostError(entry.name, 'expired'));
      this.#handOver(key, entry);
      this.#notify(entry);
    }, ttlMs);
    timer.unref();
    return timer;
  }

  /** Grants waiters from the head of the queue while they fit. */
  #handOver(key: string, entry: Entry): void {
    for (let next = entry.queue[0]; next && fits(entry, next.claim); next = entry.queue[0]) {
      entry.queue.shift();
      next.grant(this.#grant(key, entry, next.owner, next.ttlMs, next.claim));
    }
  }
}

/** The single holder of an election entry, as observers see it. */
function leaderOf(entry: Entry): LeaderState | null {
  const holder = entry.holders.values().next().value as Holder | undefined;
  return holder ? { value: holder.value, term: holder.token } : null;
}

/** Whether `claim` fits beside the current holders (see the module comment). */
function fits(entry: Entry, claim: Claim): boolean {
  if ('mode' in claim) {
    if (claim.mode === 'write') return entry.holders.size === 0;
    for (const holder of entry.holders.values())
      if ('mode' in holder.claim && holder.claim.mode === 'write') return false;
    return true;
  }
  let limit = claim.permits;
  for (const holder of entry.holders.values()) {
    if ('permits' in holder.claim && holder.claim.permits < limit) limit = holder.claim.permits;
  }
  return entry.holders.size < limit;
}

const SPACES_KEY = Symbol.for('lockstep.memory.spaces');

/** The process-wide space for `name`. */
export function memorySpace(name: string): MemorySpace {
  const g = globalThis as { [SPACES_KEY]?: Map<string, MemorySpace> };
  g[SPACES_KEY] ??= new Map();
  let space = g[SPACES_KEY].get(name);
  if (!space) {
    space = new MemorySpace();
    g[SPACES_KEY].set(name, space);
  }
  return space;
}
