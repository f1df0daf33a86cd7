/**
 * One waiter per key at a time from this coordinator: local waiters for one key line up here,
 * in arrival order, and only the first waits in PostgreSQL's queue — ten local workers
 * contending for one lock pin one waiting connection, not ten.
 * @module
 */

/** Per-key local FIFO gates. */
export class Turnstile {
  /** Per key with a caller running: the callers waiting behind it, first in first out. */
  readonly #lines = new Map<string, Array<() => void>>();

  /**
   * Runs `fn` once every earlier caller for `key` has finished. Rejects with `signal.reason`
   * (leaving the line) when `signal` aborts first.
   */
  run<T>(key: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const line = this.#lines.get(key);
    if (!line) {
      // Nobody there (the common case): in at once, without a promise of our own.
      this.#lines.set(key, []);
      return this.#inTurn(key, fn);
    }
    return new Promise<void>((admit, reject) => {
      const onAbort = () => {
        line.splice(line.indexOf(enter), 1);
        reject(signal.reason);
      };
      const enter = () => {
        signal.removeEventListener('abort', onAbort);
        admit();
      };
      line.push(enter);
      signal.addEventListener('abort', onAbort, { once: true });
    }).then(() => this.#inTurn(key, fn));
  }

  #inTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return fn().finally(() => this.#leave(key));
    } catch (error) {
      this.#leave(key);
      return Promise.reject(error);
    }
  }

  #leave(key: string): void {
    const next = this.#lines.get(key)?.shift();
    if (next) next();
    else this.#lines.delete(key);
  }
}
