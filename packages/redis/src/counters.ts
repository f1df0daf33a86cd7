/**
 * Counters on one Redis server: a plain integer string per counter (so `GET`/`INCRBY`
 * from other tools read and change it as expected). Every bounded change is one Lua
 * script, atomic on the server; concurrent adds from one coordinator are coalesced by core.
 *
 * A counter is as durable as the server's data: a restart without persistence (or a failover to
 * a replica that missed writes) sets it back — to 0 when the key is gone — and later increments
 * return values already returned before it.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import {
  type AddOutcome,
  applyDelta,
  type CounterDriver,
  effectiveBounds,
  parseCounterValue,
} from '@lockstep/core/driver';
import type { Redis } from 'ioredis';
import { answer } from './errors.js';
import { counterKey } from './keys.js';
import { COUNTER_ADD, COUNTER_CAS } from './scripts.js';

/** The counter half of the single-instance driver. */
export function redisCounters(client: Redis): CounterDriver {
  return {
    get(ref) {
      const key = counterKey(ref);
      return answer(client.get(key), 'counter get', (raw) => parseValue(key, raw));
    },

    add(ref, delta): Promise<AddOutcome> {
      const key = counterKey(ref);
      const { min, max } = effectiveBounds(ref);
      const reply = COUNTER_ADD.run(client, [key], [String(delta), String(min), String(max)]);
      return answer(reply, 'counter add', (result) => {
        const [added, value] = result as [number, number | string];
        if (Number(added) === 1) return { ok: true, value: parseValue(key, value) };
        // The script wrote nothing; name the bound with the same arithmetic core uses.
        const outcome = applyDelta(parseValue(key, value), delta, ref);
        if (outcome.ok)
          throw new BackendUnavailableError('redis', `counter ${key}: inconsistent bound check`);
        return outcome;
      });
    },

    set(ref, value) {
      return answer(client.set(counterKey(ref), String(value)), 'counter set', () => {});
    },

    compareAndSet(ref, expected, next) {
      const reply = COUNTER_CAS.run(client, [counterKey(ref)], [String(expected), String(next)]);
      return answer(reply, 'counter compareAndSet', (result) => Number(result) === 1);
    },
  };
}

function parseValue(key: string, raw: string | number | null): number {
  return raw === null ? 0 : parseCounterValue('redis', key, String(raw));
}
