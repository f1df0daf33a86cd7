/**
 * Fan-out of "this lock may be free now" notifications to local waiters, for drivers
 * whose backend pushes release events (Redis pub/sub, Postgres NOTIFY, fs.watch, memory).
 * @module
 */
import type { LockWatch } from './driver.js';

interface Subscriber {
  /** A notification arrived while it was not sleeping: its next wait returns at once. */
  pending: boolean;
  /** Picked by a notification and not back to waiting since (it is trying, or has left). */
  woken: boolean;
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
 *
 * A release wakes one waiter — the one that has waited longest — not all of them: with W
 * waiters in one coordinator, waking all made every release cost W attempts (W² per W grants).
 * A woken waiter that leaves without going back to waiting (it got the lock, or gave up)
 * passes the wake on to the next, so a notification is never lost with a waiter that left.
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

  /** Wakes the longest-waiting waiter on `key` that is not already trying. */
  notify(key: string): void {
    const subs = this.#subscribers.get(key);
    if (!subs) return;
    let chosen: Subscriber | undefined;
    for (const sub of subs) {
      if (!sub.woken) {
        chosen = sub;
        break;
      }
    }
    // Everyone is trying already: the longest waiter tries once more after its attempt.
    chosen ??= subs.values().next().value;
    if (chosen) wake(chosen);
  }

  /** Wakes every waiter on every key (e.g. after a reconnect, when messages may be lost). */
  notifyAll(): void {
    for (const subs of this.#subscribers.values()) for (const sub of subs) wake(sub);
  }

  /** Starts watching `key`. Call before the first attempt. */
  watch(key: string): LockWatch {
    const sub: Subscriber = { pending: false, woken: false, wake: undefined };
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
          // Back to waiting: whatever woke it was used (its attempt failed) — unless a new
          // notification is already here, which it now goes to try.
          sub.woken = sub.pending;
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
      close: (granted = false) => {
        if (closed) return;
        closed = true;
        sub.wake?.();
        const current = this.#subscribers.get(key);
        if (!current) return;
        current.delete(sub);
        // It leaves with a wake it did not use (no grant, no failed attempt): the next waiter gets it.
        if (!granted && (sub.woken || sub.pending) && current.size > 0) this.notify(key);
        if (current.size === 0) {
          this.#subscribers.delete(key);
          this.#hooks.onIdle?.(key);
        }
      },
    };
  }
}

function wake(sub: Subscriber): void {
  sub.woken = true;
  sub.pending = true;
  sub.wake?.();
}
