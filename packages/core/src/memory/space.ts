/**
 * The state behind `memory://NAME`: one process-wide space per NAME, so several
 * coordinators (the suite's "clients") can contend on the same locks and counters.
 *
 * This is the reference semantics every other backend is measured against: leases expire
 * on a timer, waiters queue in FIFO order, tokens never repeat within the space.
 * @module
 */

import { applyDelta } from '../bounds.js';
import type { AddOutcome, CounterRef } from '../driver.js';
import { LockLostError } from '../errors.js';
import { LossFlag } from '../loss.js';

interface Holder {
  readonly owner: string;
  readonly token: bigint;
  readonly lost: LossFlag;
  expiresAt: number;
  timer: NodeJS.Timeout;
}

interface Waiter {
  readonly owner: string;
  readonly ttlMs: number;
  readonly grant: (holder: Holder) => void;
}

interface LockEntry {
  holder: Holder | undefined;
  readonly queue: Waiter[];
  lastToken: bigint;
}

/** One named in-process backend. */
export class MemorySpace {
  readonly #locks = new Map<string, LockEntry>();
  readonly #counters = new Map<string, number>();

  /** Grants `key` to `owner` now if it is free and nobody queues; else `undefined`. */
  tryLock(key: string, owner: string, ttlMs: number): Holder | undefined {
    const entry = this.#entry(key);
    if (entry.holder || entry.queue.length > 0) return undefined;
    return this.#grant(key, entry, owner, ttlMs);
  }

  /**
   * Queues for `key`; `onGrant` runs when it is ours. Returns a function that leaves the
   * queue (true when we were still queued, false when the grant already happened).
   */
  enqueue(key: string, owner: string, ttlMs: number, onGrant: (holder: Holder) => void): () => boolean {
    const entry = this.#entry(key);
    const immediate =
      entry.holder || entry.queue.length > 0 ? undefined : this.#grant(key, entry, owner, ttlMs);
    if (immediate) {
      onGrant(immediate);
      return () => false;
    }
    const waiter: Waiter = { owner, ttlMs, grant: onGrant };
    entry.queue.push(waiter);
    return () => {
      const i = entry.queue.indexOf(waiter);
      if (i < 0) return false;
      entry.queue.splice(i, 1);
      return true;
    };
  }

  /** Pushes the lease out if `owner` holds `key`. */
  renew(key: string, owner: string, ttlMs: number): boolean {
    const holder = this.#locks.get(key)?.holder;
    if (!holder || holder.owner !== owner) return false;
    holder.expiresAt = Date.now() + ttlMs;
    clearTimeout(holder.timer);
    holder.timer = this.#expiryTimer(key, holder, ttlMs);
    return true;
  }

  /** Releases `key` if `owner` holds it, and hands it to the next waiter. */
  unlock(key: string, owner: string): boolean {
    const entry = this.#locks.get(key);
    if (!entry?.holder || entry.holder.owner !== owner) return false;
    clearTimeout(entry.holder.timer);
    entry.holder = undefined;
    this.#handOver(key, entry);
    return true;
  }

  isHeldBy(key: string, owner: string): boolean {
    return this.#locks.get(key)?.holder?.owner === owner;
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

  #entry(key: string): LockEntry {
    let entry = this.#locks.get(key);
    if (!entry) {
      entry = { holder: undefined, queue: [], lastToken: 0n };
      this.#locks.set(key, entry);
    }
    return entry;
  }

  #grant(key: string, entry: LockEntry, owner: string, ttlMs: number): Holder {
    entry.lastToken += 1n;
    const holder: Holder = {
      owner,
      token: entry.lastToken,
      lost: new LossFlag(),
      expiresAt: Date.now() + ttlMs,
      timer: undefined as unknown as NodeJS.Timeout,
    };
    holder.timer = this.#expiryTimer(key, holder, ttlMs);
    entry.holder = holder;
    return holder;
  }

  #expiryTimer(key: string, holder: Holder, ttlMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const entry = this.#locks.get(key);
      if (entry?.holder !== holder) return;
      entry.holder = undefined;
      // The key is ["lock", prefix, name]: the loss names the lock and says why.
      holder.lost.abort(new LockLostError(String((JSON.parse(key) as unknown[])[2]), 'expired'));
      this.#handOver(key, entry);
    }, ttlMs);
    timer.unref();
    return timer;
  }

  #handOver(key: string, entry: LockEntry): void {
    const next = entry.queue.shift();
    if (next) next.grant(this.#grant(key, entry, next.owner, next.ttlMs));
  }
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
