/**
 * Counters: one key per counter holding the decimal value; every change is a compare-and-swap on
 * the key's ModifyIndex (`cas` with index 0 creates the key only if it is absent), with min/max
 * checked against the exact value the CAS guards, so a violating add writes nothing.
 *
 * The CAS is a transaction `[cas, get]`: the same answer carries the new ModifyIndex, which is
 * remembered, so the next add from this coordinator skips the read when nobody else wrote in
 * between (one request instead of two). A remembered state is only ever used to propose a write
 * the server checks; a bound that looks crossed is re-checked against a fresh read before
 * `CounterBoundError` is reported. Concurrent adds from one coordinator are coalesced by core into
 * one CAS, which is what turns 64 contending callers into a handful of requests.
 * @module
 */
import {
  type AddOutcome,
  BackendUnavailableError,
  type CasState,
  type CounterDriver,
  type CounterRef,
  casAddRemembered,
  parseCounterValue,
} from '@lockstep/core';
import type { ConsulHttp } from './http.js';
import type { KvEntry } from './json.js';
import { counterKey } from './keys.js';
import { putKey, readKey, transaction } from './kv.js';

/** A counter's value and ModifyIndex (0 when the key does not exist). */
type Seen = CasState<bigint>;

/** Remembered states are kept for this many counters (least recently written dropped first). */
const REMEMBERED = 1_000;

/** The counter half of the Consul driver. */
export class ConsulCounters implements CounterDriver {
  readonly #http: ConsulHttp;
  readonly #seen = new Map<string, Seen>();

  constructor(http: ConsulHttp) {
    this.#http = http;
  }

  async get(ref: CounterRef): Promise<number> {
    return (await this.#read(counterKey(ref))).value;
  }

  async add(ref: CounterRef, delta: number): Promise<AddOutcome> {
    const key = counterKey(ref);
    const write = (next: number, version: bigint) => this.#cas(key, next, version);
    return casAddRemembered(this.#seen.get(key), () => this.#read(key), write, delta, ref);
  }

  async set(ref: CounterRef, value: number): Promise<void> {
    const key = counterKey(ref);
    this.#seen.delete(key);
    await putKey(this.#http, key, String(value), 'setting a counter');
  }

  async compareAndSet(ref: CounterRef, expected: number, next: number): Promise<boolean> {
    const key = counterKey(ref);
    let seen = await this.#read(key);
    for (;;) {
      if (seen.value !== expected) return false;
      // The value may have been rewritten to the same number in between: then try again.
      const written = await this.#cas(key, next, seen.version);
      if (written === true) return true;
      seen = written;
    }
  }

  /**
   * `[cas, get]` in one request: `true` when written (the new state is remembered), else the
   * current state, read right away (what the CAS loop retries with).
   */
  async #cas(key: string, next: number, version: bigint): Promise<true | Seen> {
    const outcome = await transaction(
      this.#http,
      [
        { verb: 'cas', key, value: String(next), index: version },
        { verb: 'get', key },
      ],
      'updating a counter',
    );
    if (outcome.committed) {
      const entry = outcome.entries[outcome.entries.length - 1];
      if (entry) this.#remember(key, { value: parseValue(entry), version: entry.modifyIndex });
      return true;
    }
    this.#seen.delete(key);
    const current = await this.#read(key);
    if (current.version === version) {
      // Refused although the index still matches: not contention, and retrying would loop forever.
      throw new BackendUnavailableError(
        'consul',
        `updating a counter was refused: ${outcome.errors.join('; ')}`,
      );
    }
    return current;
  }

  async #read(key: string): Promise<Seen> {
    const entry = await readKey(this.#http, key, 'reading a counter');
    return entry === undefined
      ? { value: 0, version: 0n }
      : { value: parseValue(entry), version: entry.modifyIndex };
  }

  #remember(key: string, seen: Seen): void {
    this.#seen.delete(key);
    this.#seen.set(key, seen);
    if (this.#seen.size > REMEMBERED) this.#seen.delete(this.#seen.keys().next().value as string);
  }
}

function parseValue(entry: KvEntry): number {
  return parseCounterValue('consul', entry.key, entry.value.toString('utf8'));
}
