/**
 * Counters: one key per counter holding the decimal value; every change is a compare-and-swap on
 * the key's ModifyIndex (`cas` with index 0 creates the key only if it is absent), with min/max
 * checked against the exact value the CAS guards, so a violating add writes nothing.
 *
 * The CAS is a transaction `[cas, get]`: the same answer carries the new ModifyIndex, which core's
 * `RememberedCounters` keeps, so the next add from this coordinator skips the read when nobody else
 * wrote in between (one request instead of two). Concurrent adds from one coordinator are coalesced
 * by core into one CAS, which is what turns 64 contending callers into a handful of requests.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import {
  type CasCounterOps,
  type CasState,
  type CasWrite,
  type CounterDriver,
  parseCounterValue,
  RememberedCounters,
} from '@lockstep/core/driver';
import type { ConsulHttp } from './http.js';
import type { KvEntry } from './json.js';
import { counterKey } from './keys.js';
import { putKey, readKey, transaction } from './kv.js';

/** The counter half of the Consul driver. */
export function consulCounters(http: ConsulHttp): CounterDriver {
  const remembered = new RememberedCounters<bigint>();
  return {
    get: async (ref) => (await counterOps(http, counterKey(ref)).read()).value,
    add: (ref, delta) => {
      const key = counterKey(ref);
      return remembered.add(key, counterOps(http, key), delta, ref);
    },
    set: async (ref, value) => {
      const key = counterKey(ref);
      remembered.forget(key);
      await putKey(http, key, String(value), 'setting a counter');
    },
    compareAndSet: async (ref, expected, next) => {
      const key = counterKey(ref);
      const ops = counterOps(http, key);
      let seen = await ops.read();
      for (;;) {
        if (seen.value !== expected) return false;
        // The value may have been rewritten to the same number in between: then try again.
        const { written, state } = await ops.write(next, seen.version);
        if (written) {
          if (state) remembered.remember(key, state);
          return true;
        }
        seen = state ?? (await ops.read());
      }
    },
  };
}

/** Reads and guarded writes of the counter at `key`. */
function counterOps(http: ConsulHttp, key: string): CasCounterOps<bigint> {
  const read = async (): Promise<CasState<bigint>> => {
    const entry = await readKey(http, key, 'reading a counter');
    return entry === undefined ? { value: 0, version: 0n } : stateOf(entry);
  };
  /** `[cas, get]` in one request; a refused CAS is followed by a read (what the retry needs). */
  const write = async (next: number, version: bigint): Promise<CasWrite<bigint>> => {
    const ops = [
      { verb: 'cas', key, value: String(next), index: version },
      { verb: 'get', key },
    ] as const;
    const outcome = await transaction(http, ops, 'updating a counter');
    if (outcome.committed) {
      const entry = outcome.entries[outcome.entries.length - 1];
      return { written: true, state: entry && stateOf(entry) };
    }
    const current = await read();
    if (current.version === version) {
      // Refused although the index still matches: not contention, and retrying would loop forever.
      const why = outcome.errors.map((e) => e.what).join('; ');
      throw new BackendUnavailableError('consul', `updating a counter was refused: ${why}`);
    }
    return { written: false, state: current };
  };
  return { read, write };
}

function stateOf(entry: KvEntry): CasState<bigint> {
  return {
    value: parseCounterValue('consul', entry.key, entry.value.toString('utf8')),
    version: entry.modifyIndex,
  };
}
