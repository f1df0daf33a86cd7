/**
 * Sessions for semaphores. api/semaphore.go counts holders by session — a contender key
 * `<prefix>/<session>`, a `Holders` set of session IDs — so one coordinator's concurrent permits
 * (and waits) of ONE semaphore need a session each, while permits of different semaphores share one.
 *
 * Slots: slot 0 is the coordinator's own session pool, the one its locks ride on; a permit takes
 * the first slot whose session has no claim on its semaphore yet, and a further slot (a further
 * pool) is opened only when one coordinator holds or waits for several permits of one semaphore at
 * once. Renewal stays per session: a coordinator holding one permit of each of 1,000 semaphores
 * renews one session; one holding 5 permits of one semaphore renews 5.
 * @module
 */
import { backendFailure, type SessionPool } from '@lockstep/core/driver';
import type { ConsulSession } from './session.js';

/** The pool's session for `ttlMs`, opened if needed; a failure to open it is a typed error. */
export async function sessionFor(pool: SessionPool<ConsulSession>, ttlMs: number): Promise<ConsulSession> {
  try {
    return await pool.session(ttlMs);
  } catch (error) {
    throw backendFailure('consul', 'opening a session', error);
  }
}

/** A session and this permit's claim on its semaphore. */
export interface SlotClaim {
  readonly session: ConsulSession;
  readonly claim: symbol;
}

/** See the module comment. */
export class SessionSlots {
  readonly #pools: SessionPool<ConsulSession>[];
  readonly #open: () => SessionPool<ConsulSession>;

  /** `first`: the coordinator's pool (closed by its owner); `open`: a pool for a further slot. */
  constructor(first: SessionPool<ConsulSession>, open: () => SessionPool<ConsulSession>) {
    this.#pools = [first];
    this.#open = open;
  }

  /** Claims `key` on the first slot's session (for `ttlMs`) that has no claim on it. */
  async claim(ttlMs: number, key: string): Promise<SlotClaim> {
    for (let slot = 0; ; slot++) {
      if (slot === this.#pools.length) this.#pools.push(this.#open());
      const pool = this.#pools[slot]!;
      const session = pool.current(ttlMs) ?? (await sessionFor(pool, ttlMs));
      const claim = session.claim(key);
      if (claim) return { session, claim };
    }
  }

  /** Closes the further slots' sessions (the first pool is its owner's to close). */
  async close(): Promise<void> {
    await Promise.allSettled(this.#pools.slice(1).map((pool) => pool.close()));
  }
}
