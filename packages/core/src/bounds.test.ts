import { describe, expect, it } from 'vitest';
import { type CasState, casAddRemembered, parseCounterValue } from './bounds.js';
import { BackendUnavailableError } from './errors.js';

/** A versioned cell whose CAS answers a refusal with the current state, like etcd and Consul. */
function cell(value: number) {
  let state: CasState<number> = { value, version: 1 };
  let reads = 0;
  const read = async () => {
    reads++;
    return state;
  };
  const write = async (next: number, version: number) => {
    if (version !== state.version) return state;
    state = { value: next, version: version + 1 };
    return true as const;
  };
  return {
    read,
    write,
    reads: () => reads,
    set: (v: number) => (state = { value: v, version: state.version + 1 }),
  };
}

describe('casAddRemembered', () => {
  it('without a memory, reads once and writes', async () => {
    const c = cell(5);
    expect(await casAddRemembered(undefined, c.read, c.write, 2, {})).toEqual({ ok: true, value: 7 });
    expect(c.reads()).toBe(1);
  });

  it('with a current memory, writes without reading', async () => {
    const c = cell(5);
    const seen = await c.read();
    expect(await casAddRemembered(seen, c.read, c.write, 1, {})).toEqual({ ok: true, value: 6 });
    expect(c.reads()).toBe(1);
  });

  it('with a stale memory, retries on the state the refused CAS returned', async () => {
    const c = cell(5);
    const stale = await c.read();
    c.set(10);
    expect(await casAddRemembered(stale, c.read, c.write, 1, {})).toEqual({ ok: true, value: 11 });
  });

  it('judges a bound crossed on a stale memory again on a fresh read', async () => {
    const c = cell(0);
    const stale = await c.read();
    c.set(3);
    expect(await casAddRemembered(stale, c.read, c.write, -2, { min: 0 })).toEqual({ ok: true, value: 1 });
  });

  it('reports a bound crossed on the current value, with nothing written and no retries field', async () => {
    const c = cell(0);
    const seen = await c.read();
    const outcome = await casAddRemembered(seen, c.read, c.write, -1, { min: 0 });
    expect(outcome).toEqual({ ok: false, bound: 'min', limit: 0, attempted: -1 });
    expect((await c.read()).value).toBe(0);
  });
});

describe('parseCounterValue', () => {
  it('reads decimal safe integers', () => {
    expect(parseCounterValue('etcd', 'k', '42')).toBe(42);
    expect(parseCounterValue('etcd', 'k', '-7')).toBe(-7);
  });

  it.each(['', '1.5', '1e3', ' 1', 'abc', '9007199254740993'])(
    'rejects %j as written by something else',
    (text) => {
      expect(() => parseCounterValue('consul', 'k', text)).toThrow(BackendUnavailableError);
      expect(() => parseCounterValue('consul', 'k', text)).toThrow(/not a safe integer/);
    },
  );
});
