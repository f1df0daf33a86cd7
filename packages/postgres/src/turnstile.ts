/**
 * One waiter per key at a time from this coordinator: local waiters for the same key line up
 * here (in arrival order) and only the first waits in PostgreSQL's queue, so ten local workers
 * contending for one lock pin one waiting connection, not ten.
 * @module
 */

interface Turn {
  readonly admit: () => void;
}

/** Per-key local FIFO gates. */
export class Turnstile {
  readonly #lines = new Map<string, Turn[]>();

  /**
   * Runs `fn` once every earlier caller for `key` has finished. Rejects with `signal.reason`
   * (leaving the line) when `signal` aborts first.
   */
  run<T>(key: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    // Nobody in line (the common case): in at once, without a promise of our own.
    if (!this.#lines.has(key)) {
      this.#lines.set(key, [{ admit: () => {} }]);
      return this.#after(key, fn);
    }
    return this.#enter(key, signal).then(() => this.#after(key, fn));
  }

  #after<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let running: Promise<T>;
    try {
      running = fn();
    } catch (error) {
      this.#leave(key);
      return Promise.reject(error);
    }
    return running.finally(() => this.#leave(key));
  }

  /** Callers in line for `key`, the one running included. */
  lineLength(key: string): number {
    return this.#lines.get(key)?.length ?? 0;
  }

  #enter(key: string, signal: AbortSignal): Promise<void> {
    const line = this.#lines.get(key);
    if (!line) {
      this.#lines.set(key, [{ admit: () => {} }]);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const turn: Turn = {
        admit: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = line.indexOf(turn);
        if (i > 0) line.splice(i, 1);
        reject(signal.reason);
      };
      line.push(turn);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #leave(key: string): void {
    const line = this.#lines.get(key);
    if (!line) return;
    line.shift();
    const next = line[0];
    if (next) next.admit();
    else this.#lines.delete(key);
  }
}
