/**
 * Wakes blocking queries. Every committed write calls `notify()`; each waiting query re-evaluates
 * its own condition ("has my index moved past the one the client sent?") and returns when it holds.
 */
interface Waiter {
  ready(): boolean;
  finish(): void;
}

export class ChangeFeed {
  readonly #waiters = new Set<Waiter>();

  /** Number of queries currently blocked (for tests and diagnostics). */
  get waiting(): number {
    return this.#waiters.size;
  }

  notify(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.ready()) waiter.finish();
    }
  }

  /**
   * Resolves when `ready()` is true after some change, when `timeoutMs` elapses, or when `signal`
   * aborts (client gone, server closing) — whichever comes first. Never rejects.
   */
  waitFor(ready: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const waiter: Waiter = {
        ready,
        finish: () => {
          this.#waiters.delete(waiter);
          clearTimeout(timer);
          signal.removeEventListener('abort', waiter.finish);
          resolve();
        },
      };
      const timer = setTimeout(waiter.finish, timeoutMs);
      signal.addEventListener('abort', waiter.finish, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** Releases every blocked query at once (used when the server closes). */
  releaseAll(): void {
    for (const waiter of [...this.#waiters]) waiter.finish();
  }
}
