import type { EmulatorClock } from './clock.js';

/**
 * The Sessions overview (Session Design) gives lock-delay a range of 0 to 60 seconds. Longer values
 * are accepted at session creation and capped when applied, which is what the Consul server does.
 */
export const MAX_LOCK_DELAY_MS = 60_000;

/**
 * Keys that may not be acquired for a while after the session holding them was invalidated.
 * Only acquisition (`?acquire=`, txn `lock`) consults this; plain writes are unaffected.
 */
export class LockDelays {
  readonly #until = new Map<string, number>();

  constructor(private readonly clock: EmulatorClock) {}

  /** Blocks acquisition of `key` for `delayMs` (capped at 60 s) from now. */
  start(key: string, delayMs: number): void {
    if (delayMs <= 0) return;
    this.#until.set(key, this.clock.now() + Math.min(delayMs, MAX_LOCK_DELAY_MS));
  }

  /** True while `key` is inside its lock-delay. */
  isActive(key: string): boolean {
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.#until.delete(key);
    return false;
  }
}
