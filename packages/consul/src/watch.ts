/**
 * Release notifications for waiters: while at least one local waiter waits on a key, one blocking
 * query loop follows it and wakes the waiters whenever the key looks free (deleted, or no session
 * holds it). Our own releases wake local waiters at once, without a round trip.
 * @module
 */
import { type LockWatch, ReleaseHub } from '@lockstep/core';
import { followKey } from './blocking.js';
import type { ConsulHttp } from './http.js';

/** Follows the keys local waiters wait on. */
export class ReleaseWatches {
  readonly #http: ConsulHttp;
  readonly #waitMs: number;
  readonly #loops = new Map<string, AbortController>();
  readonly #hub: ReleaseHub;

  constructor(http: ConsulHttp, waitMs: number) {
    this.#http = http;
    this.#waitMs = waitMs;
    this.#hub = new ReleaseHub({
      onActive: (key) => this.#start(key),
      onIdle: (key) => this.#stop(key),
    });
  }

  /** A watch on `key`, opened before the first attempt (see core's `LockDriver.watch`). */
  watch(key: string): LockWatch {
    return this.#hub.watch(key);
  }

  /** Wakes local waiters on `key` (after one of our own releases). */
  notify(key: string): void {
    this.#hub.notify(key);
  }

  /** Stops every loop. */
  close(): void {
    for (const key of [...this.#loops.keys()]) this.#stop(key);
  }

  #start(key: string): void {
    const stop = new AbortController();
    this.#loops.set(key, stop);
    void followKey(this.#http, {
      key,
      waitMs: this.#waitMs,
      signal: stop.signal,
      onState: (state) => {
        // Held by a session: nothing to do until it changes. Anything else may be a chance.
        if (!state.exists || state.entry.session === '') this.#hub.notify(key);
      },
    });
  }

  #stop(key: string): void {
    this.#loops.get(key)?.abort();
    this.#loops.delete(key);
  }
}
