/**
 * Keys we failed to delete. A contender's key on the shared lease would otherwise stay until
 * that lease ends — and a shared lease is kept alive for as long as the coordinator lives, so
 * one lost delete reply would block the lock for everyone. The sweeper retries the
 * delete in the background until it succeeds, the key's lease is lost (its keys go with it),
 * or the coordinator closes (and revokes its leases).
 * @module
 */
import { remove } from './queue.js';
import type { EtcdRpc } from './rpc.js';
import type { LeaseSession } from './session.js';

interface Leftover {
  readonly key: string;
  readonly session: LeaseSession;
  readonly done: () => void;
}

/** Retries deletes of contenders' keys until they are gone. */
export class KeySweeper {
  readonly #rpc: EtcdRpc;
  readonly #leftovers = new Set<Leftover>();
  #timer: NodeJS.Timeout | undefined;
  #delayMs = 100;

  constructor(rpc: EtcdRpc) {
    this.#rpc = rpc;
  }

  /** Keys still waiting to be deleted. */
  get pending(): number {
    return this.#leftovers.size;
  }

  /**
   * Deletes `key` eventually (the name belongs to one acquire until then); `done` runs once it
   * is gone or no longer matters.
   */
  add(key: string, session: LeaseSession, done: () => void): void {
    this.#leftovers.add({ key, session, done });
    this.#delayMs = 100;
    this.#arm();
  }

  /** Stops retrying; `done` runs for every leftover (the coordinator revokes their leases). */
  close(): void {
    clearTimeout(this.#timer);
    for (const leftover of this.#leftovers) leftover.done();
    this.#leftovers.clear();
  }

  #arm(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => void this.#sweep(), this.#delayMs);
    this.#timer.unref();
  }

  async #sweep(): Promise<void> {
    this.#timer = undefined;
    await Promise.all(
      [...this.#leftovers].map(async (leftover) => {
        if (!leftover.session.usable) return this.#settle(leftover);
        try {
          await remove(this.#rpc, leftover.key);
          this.#settle(leftover);
        } catch {
          // Still unreachable: next round.
        }
      }),
    );
    if (this.#leftovers.size > 0) {
      this.#delayMs = Math.min(this.#delayMs * 2, 2_000);
      this.#arm();
    }
  }

  #settle(leftover: Leftover): void {
    if (!this.#leftovers.delete(leftover)) return;
    leftover.done();
  }
}
