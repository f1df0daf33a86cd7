/**
 * Fan-out of "this lock may be free now" notifications to local waiters, for drivers
 * whose backend pushes release events (Redis pub/sub, Postgres NOTIFY, fs.watch, memory).
 * @module
 */
import type { LockWatch } from './driver.js';

interface Subscriber {
  pending: boolean;
  wake: (() => void) | undefined;
}

/** Hooks for drivers that subscribe on the backend only while someone waits on a key. */
export interface ReleaseHubHooks {
  /** The first local waiter for `key` appeared. */
  onActive?(key: string): void;
  /** The last local waiter for `key` left. */
  onIdle?(key: string): void;
}

/**
 * Keeps, per key, the local waiters and wakes them on {@link ReleaseHub.notify}. A
 * notification that arrives while a waiter is between attempts is remembered (`pending`),
 * so it is never lost to a race between "attempt failed" and "start waiting".
 */
export class ReleaseHub {
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  readonly #hooks: ReleaseHubHooks;

  constructor(hooks: ReleaseHubHooks = {}) {
    this.#hooks = hooks;
  }

  /** Keys that have at least one waiter. */
  activeKeys(): string[] {
    return [...this.#subscribers.keys()];
  }

  /** Wakes every waiter on `key`. */
  notify(key: string): void {
    const subs = this.#subscribers.get(key);
    if (!subs) return;
    for (const sub of subs) {
      sub.pending = true;
      sub.wake?.();
    }
  }

  /** Wakes every waiter on every key (e.g. after a reconnect, when messages may be lost). */
  notifyAll(): void {
    for (const key of this.#subscribers.keys()) this.notify(key);
  }

  /** Starts watching `key`. Call before the first attempt. */
  watch(key: string): LockWatch {
    const sub: Subscriber = { pending: false, wake: undefined };
    let subs = this.#subscribers.get(key);
    if (!subs) {
      subs = new Set();
      this.#subscribers.set(key, subs);
      this.#hooks.onActive?.(key);
    }
    subs.add(sub);
    let closed = false;
    return {
      next: (maxMs, signal) =>
        new Promise<void>((resolve) => {
          if (sub.pending || signal.aborted || closed) {
            sub.pending = false;
            return resolve();
          }
          const done = () => {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            sub.wake = undefined;
            sub.pending = false;
            resolve();
          };
          const timer = setTimeout(done, Math.max(0, maxMs));
          signal.addEventListener('abort', done, { once: true });
          sub.wake = done;
        }),
      close: () => {
        if (closed) return;
        closed = true;
        sub.wake?.();
        const current = this.#subscribers.get(key);
        if (!current) return;
        current.delete(sub);
        if (current.size === 0) {
          this.#subscribers.delete(key);
          this.#hooks.onIdle?.(key);
        }
      },
    };
  }
}
