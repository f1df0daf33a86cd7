/**
 * Counters on a backend whose only atomic write is compare-and-set on a version (etcd's
 * mod revision, Consul's ModifyIndex, a ZooKeeper node's version): read the value and its
 * version, propose value + delta guarded by that version, retry on a lost race.
 *
 * The last state seen of each counter is remembered, so an add from a warm coordinator skips
 * the read: one round trip instead of two. The memory only ever proposes a write the server
 * checks, so a stale entry costs one retry, never a wrong result. It is bounded — an app that
 * names a counter per user or per order must not grow the coordinator's heap without end —
 * and the least recently used entries go first.
 * @module
 */
import { type CasState, type CounterBounds, casAddRemembered } from '../bounds.js';
import type { AddOutcome } from '../driver.js';

/** How many counters' last states a coordinator remembers. */
export const DEFAULT_REMEMBERED_COUNTERS = 1_000;

/** The backend's half of a CAS counter, for one counter key. */
export interface CasCounterOps<V> {
  /** The current value (0 when never written) and its version. */
  read(): Promise<CasState<V>>;
  /**
   * Writes `next` only if the version is still `version`. `written`: whether it did. `state`:
   * the counter's state after the call when the reply tells it — the new one after a write, the
   * one that won after a lost race (which saves the retry its read).
   */
  write(next: number, version: V): Promise<CasWrite<V>>;
}

/** What a guarded write did. */
export interface CasWrite<V> {
  readonly written: boolean;
  readonly state?: CasState<V>;
}

/** The remembered states of many counters, and the add that uses them. */
export class RememberedCounters<V> {
  readonly #states = new Map<string, CasState<V>>();
  readonly #max: number;

  constructor(max = DEFAULT_REMEMBERED_COUNTERS) {
    this.#max = max;
  }

  /** How many states are remembered (for tests). */
  get size(): number {
    return this.#states.size;
  }

  /** Adds `delta` to the counter at `key` within `bounds`, atomically on the server. */
  add(key: string, ops: CasCounterOps<V>, delta: number, bounds: CounterBounds): Promise<AddOutcome> {
    const read = () => ops.read().then((state) => this.remember(key, state));
    // A lost race whose reply does not tell the winning state is followed by a fresh read here:
    // the loop's own re-read may still be the remembered state that just lost.
    const write = (next: number, version: V) =>
      ops.write(next, version).then(({ written, state }): boolean | CasState<V> | Promise<CasState<V>> => {
        if (state) this.remember(key, state);
        else this.forget(key);
        return written || (state ?? read());
      });
    return casAddRemembered(this.#states.get(key), read, write, delta, bounds);
  }

  /** Remembers `state` as the latest of `key` (after a read, or a write that succeeded). */
  remember(key: string, state: CasState<V>): CasState<V> {
    this.#states.delete(key);
    this.#states.set(key, state);
    if (this.#states.size > this.#max) this.#states.delete(this.#states.keys().next().value as string);
    return state;
  }

  /** Forgets `key` (its state is no longer known). */
  forget(key: string): void {
    this.#states.delete(key);
  }

  /** The remembered state of `key`, if any. */
  get(key: string): CasState<V> | undefined {
    return this.#states.get(key);
  }
}
