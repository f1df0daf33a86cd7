import { describe, expect, it } from 'vitest';
import type { CasState } from '../bounds.js';
import { RememberedCounters } from './cas-counter.js';

/** One versioned value on a fake server, counting round trips. */
function server(start = 0) {
  let state: CasState<number> = { value: start, version: 1 };
  const trips = { read: 0, write: 0 };
  return {
    trips,
    bump: (by: number) => {
      state = { value: state.value + by, version: state.version + 1 };
    },
    ops: {
      read: async () => {
        trips.read++;
        return state;
      },
      write: async (next: number, version: number) => {
        trips.write++;
        if (version !== state.version) return { written: false, state };
        state = { value: next, version: version + 1 };
        return { written: true, state };
      },
    },
  };
}

describe('RememberedCounters', () => {
  it('a warm add is one round trip; a stale memory costs one retry, never a wrong value', async () => {
    const counters = new RememberedCounters<number>();
    const s = server();
    expect(await counters.add('k', s.ops, 1, {})).toEqual({ ok: true, value: 1 });
    expect(s.trips).toEqual({ read: 1, write: 1 });
    expect(await counters.add('k', s.ops, 1, {})).toEqual({ ok: true, value: 2 });
    expect(s.trips).toEqual({ read: 1, write: 2 });
    s.bump(10);
    expect(await counters.add('k', s.ops, 1, {})).toEqual({ ok: true, value: 13 });
    expect(s.trips).toEqual({ read: 1, write: 4 });
  });

  it('judges a bound on a fresh read, never on a stale memory', async () => {
    const counters = new RememberedCounters<number>();
    const s = server(5);
    await counters.add('k', s.ops, -5, { min: 0 });
    s.bump(3);
    expect(await counters.add('k', s.ops, -1, { min: 0 })).toEqual({ ok: true, value: 2 });
  });

  it('remembers at most its bound, dropping the least recently used', async () => {
    const counters = new RememberedCounters<number>(2);
    const s = server();
    await counters.add('a', s.ops, 1, {});
    await counters.add('b', s.ops, 1, {});
    await counters.add('a', s.ops, 1, {});
    await counters.add('c', s.ops, 1, {});
    expect(counters.size).toBe(2);
    expect(counters.get('b')).toBeUndefined();
    expect(counters.get('a')).toBeDefined();
  });

  it('re-reads after a lost race whose reply does not tell the winner (ZooKeeper, BAD_VERSION)', async () => {
    const counters = new RememberedCounters<number>();
    const s = server();
    const silent = {
      ...s.ops,
      write: async (next: number, version: number) => {
        const result = await s.ops.write(next, version);
        return result.written ? result : { written: false };
      },
    };
    await counters.add('k', silent, 1, {});
    s.bump(10);
    expect(await counters.add('k', silent, 1, {})).toEqual({ ok: true, value: 12 });
    expect(s.trips).toEqual({ read: 2, write: 3 });
  });
});
