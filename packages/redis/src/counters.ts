/**
 * Counters on one Redis server: a plain integer string per counter (so `GET`/`INCRBY`
 * from other tools read and change it as expected). Every bounded change is one Lua
 * script, atomic on the server; concurrent adds from one coordinator are coalesced by core.
 * @module
 */
import {
  type AddOutcome,
  applyDelta,
  BackendUnavailableError,
  type CounterDriver,
  effectiveBounds,
} from '@lockstep/core';
import type { Redis } from 'ioredis';
import { mapErrors } from './errors.js';
import { counterKey } from './keys.js';
import { COUNTER_ADD, COUNTER_CAS } from './scripts.js';

/** The counter half of the single-instance driver. */
export function redisCounters(client: Redis): CounterDriver {
  const run = <T>(doing: string, op: () => Promise<T>) => mapErrors('redis', doing, op());
  return {
    async get(ref) {
      const key = counterKey(ref);
      return parseValue(key, await run('counter get', () => client.get(key)));
    },

    async add(ref, delta): Promise<AddOutcome> {
      const key = counterKey(ref);
      const { min, max } = effectiveBounds(ref);
      const reply = (await run('counter add', () =>
        COUNTER_ADD.run(client, [key], [String(delta), String(min), String(max)]),
      )) as [number, number | string];
      if (Number(reply[0]) === 1) return { ok: true, value: parseValue(key, reply[1]) };
      // The script wrote nothing; name the bound with the same arithmetic core uses.
      const outcome = applyDelta(parseValue(key, reply[1]), delta, ref);
      if (outcome.ok) throw new BackendUnavailableError('redis', `counter ${key}: inconsistent bound check`);
      return outcome;
    },

    async set(ref, value) {
      const key = counterKey(ref);
      await run('counter set', () => client.set(key, String(value)));
    },

    async compareAndSet(ref, expected, next) {
      const key = counterKey(ref);
      const reply = await run('counter compareAndSet', () =>
        COUNTER_CAS.run(client, [key], [String(expected), String(next)]),
      );
      return Number(reply) === 1;
    },
  };
}

function parseValue(key: string, raw: string | number | null): number {
  if (raw === null) return 0;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) {
    throw new BackendUnavailableError(
      'redis',
      `counter ${key} holds ${JSON.stringify(raw)}, not a safe integer`,
    );
  }
  return value;
}
