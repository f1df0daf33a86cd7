/**
 * Release notifications for waiters: while local waiters wait on a key, one blocking-query loop
 * follows it and wakes them whenever the key looks free (deleted, or no session holds it). Our
 * own releases wake local waiters at once, without a round trip.
 *
 * The loop starts lazily, at the first wait — not when core opens the watch before its first
 * attempt — so an uncontended acquire sends nothing but its transaction. No release can slip
 * through: the loop's first answer reflects the key after the failed attempt, and a free key on
 * that first answer wakes the waiter. When the failed attempt already read the key, the loop starts
 * blocking on that read's index instead of reading again.
 * @module
 */
import { type LockWatch, ReleaseHub } from '@lockstep/core/driver';
import { followKey } from './blocking.js';
import type { ConsulHttp } from './http.js';

interface Watched {
  loop: AbortController | undefined;
  /** ModifyIndex of the holder seen by the last failed attempt. */
  seenIndex: bigint | undefined;
}

/** Follows the keys local waiters wait on. */
export class ReleaseWatches {
  readonly #http: ConsulHttp;
  readonly #waitMs: number;
  readonly #watched = new Map<string, Watched>();
  readonly #hub: ReleaseHub;

  constructor(http: ConsulHttp, waitMs: number) {
    this.#http = http;
    this.#waitMs = waitMs;
    this.#hub = new ReleaseHub({
      onActive: (key) => this.#watched.set(key, { loop: undefined, seenIndex: undefined }),
      onIdle: (key) => {
        this.#watched.get(key)?.loop?.abort();
        this.#watched.delete(key);
      },
    });
  }

  /** A watch on `key`, opened by core before its first attempt. */
  watch(key: string): LockWatch {
    const watch = this.#hub.watch(key);
    const next: LockWatch['next'] = (maxMs, signal) => {
      this.#start(key);
      return watch.next(maxMs, signal);
    };
    return { next, close: watch.close };
  }

  /** A failed attempt saw `key` held at `modifyIndex` (used when a loop starts; ignored otherwise). */
  sawHeld(key: string, modifyIndex: bigint): void {
    const watched = this.#watched.get(key);
    if (watched && !watched.loop) watched.seenIndex = modifyIndex;
  }

  /** Wakes local waiters on `key` (after one of our own releases). */
  notify(key: string): void {
    this.#hub.notify(key);
  }

  /** Stops every loop. */
  close(): void {
    for (const watched of this.#watched.values()) watched.loop?.abort();
    this.#watched.clear();
  }

  #start(key: string): void {
    const watched = this.#watched.get(key);
    if (!watched || watched.loop) return;
    const loop = new AbortController();
    watched.loop = loop;
    void followKey(this.#http, {
      key,
      startIndex: watched.seenIndex,
      waitMs: this.#waitMs,
      signal: loop.signal,
      onState: (state) => {
        // Held by a session: nothing to do until it changes. Anything else may be a chance.
        if (!state.exists || state.entry.session === '') this.#hub.notify(key);
      },
    });
  }
}
