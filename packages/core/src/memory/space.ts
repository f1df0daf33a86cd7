/**
 * The state behind `memory://NAME`: one process-wide space per NAME, so several
 * coordinators (the suite's "clients") can contend on the same locks, semaphores and counters.
 *
 * This is the reference semantics every other backend is measured against: leases expire
 * on a timer, waiters queue in FIFO order, tokens never repeat within a name.
 *
 * A lock is a semaphore of one permit, so both are one algorithm: an entry holds its current
 * holders and a queue. The first waiter is granted as soon as the holders are fewer than the
 * smallest permit count declared by it and by every holder (the `smallest` mismatch rule), and
 * nobody behind it goes first.
 * @module
 */

import { applyDelta } from '../bounds.js';
import type { AddOutcome, CounterRef } from '../driver.js';
import { LockLostError } from '../errors.js';
import { LossFlag } from '../loss.js';

/** One granted lock or permit. */
export interface Holder {
  readonly owner: string;
  readonly token: bigint;
  readonly lost: LossFlag;
  readonly permits: number;
  expiresAt: number;
  timer: NodeJS.Timeout;
}

interface Waiter {
  readonly owner: string;
  readonly ttlMs: number;
  readonly permits: number;
  readonly grant: (holder: Holder) => void;
}

interface Entry {
  /** The lock's or semaphore's name, for loss messages. */
  readonly name: string;
  readonly holders: Map<string, Holder>;
  readonly queue: Waiter[];
  lastToken: bigint;
}

/** One named in-process backend. */
export class MemorySpace {
  readonly #entries = new Map<string, Entry>();
  readonly #counters = new Map<string, number>();

  /**
   * Grants `key` to `owner` now if a permit is free and nobody queues; else `undefined`.
   * `permits` is 1 for a lock.
   */
  tryAcquire(key: string, name: string, owner: string, ttlMs: number, permits = 1): Holder | undefined {
    const entry = this.#entry(key, name);
    if (entry.queue.length > 0 || !roomFor(entry, permits)) return undefined;
    return this.#grant(key, entry, owner, ttlMs, permits);
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
    permits: number,
    onGrant: (holder: Holder) => void,
  ): () => boolean {
    const immediate = this.tryAcquire(key, name, owner, ttlMs, permits);
    if (immediate) {
      onGrant(immediate);
      return () => false;
    }
    const entry = this.#entry(key, name);
    const waiter: Waiter = { owner, ttlMs, permits, grant: onGrant };
    entry.queue.push(waiter);
    return () => {
      const i = entry.queue.indexOf(waiter);
      if (i < 0) return false;
      entry.queue.splice(i, 1);
      // The head left: the next one may fit where it did not (a smaller count declared).
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
    return true;
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

  #grant(key: string, entry: Entry, owner: string, ttlMs: number, permits: number): Holder {
    entry.lastToken += 1n;
    const holder: Holder = {
      owner,
      token: entry.lastToken,
      lost: new LossFlag(),
      permits,
      expiresAt: Date.now() + ttlMs,
      timer: undefined as unknown as NodeJS.Timeout,
    };
    holder.timer = this.#expiryTimer(key, holder, ttlMs);
    entry.holders.set(owner, holder);
    return holder;
  }

  #expiryTimer(key: string, holder: Holder, ttlMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const entry = this.#entries.get(key);
      if (entry?.holders.get(holder.owner) !== holder) return;
      entry.holders.delete(holder.owner);
      holder.lost.abort(new LockLostError(entry.name, 'expired'));
      this.#handOver(key, entry);
    }, ttlMs);
    timer.unref();
    return timer;
  }

  /** Grants waiters from the head of the queue while they fit. */
  #handOver(key: string, entry: Entry): void {
    for (let next = entry.queue[0]; next && roomFor(entry, next.permits); next = entry.queue[0]) {
      entry.queue.shift();
      next.grant(this.#grant(key, entry, next.owner, next.ttlMs, next.permits));
    }
  }
}

/** Whether one more holder fits: fewer holders than the smallest count anyone declared. */
function roomFor(entry: Entry, permits: number): boolean {
  let limit = permits;
  for (const holder of entry.holders.values()) if (holder.permits < limit) limit = holder.permits;
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
