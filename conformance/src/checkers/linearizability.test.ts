import { describe, expect, it } from 'vitest';
import type { CounterHistoryEntry, CounterModel } from './counter-model.js';
import { InvalidHistoryError } from './errors.js';
import { checkCounterLinearizability } from './linearizability.js';

/** Shorthand constructors for hand-written histories. */
const get = (client: string, call: number, ret: number, output?: number): CounterHistoryEntry => ({
  client,
  op: 'get',
  output,
  call,
  ret,
});
const add = (
  client: string,
  call: number,
  ret: number,
  input: number,
  output?: number | { ok: false },
): CounterHistoryEntry => ({ client, op: 'add', input, output, call, ret });
const set = (client: string, call: number, ret: number, input: number, output?: { ok: false }) =>
  ({ client, op: 'set', input, output, call, ret }) as CounterHistoryEntry;
const cas = (
  client: string,
  call: number,
  ret: number,
  expected: number,
  next: number,
  output?: boolean | { ok: false },
): CounterHistoryEntry => ({ client, op: 'compareAndSet', input: { expected, next }, output, call, ret });

const NEVER = Number.POSITIVE_INFINITY;

describe('known-good histories', () => {
  it('accepts an empty history', () => {
    expect(checkCounterLinearizability([])).toMatchObject({
      result: 'linearizable',
      ok: true,
      operations: 0,
    });
  });

  it('accepts a sequential history of every operation', () => {
    const history = [
      add('a', 0, 1, 1, 1),
      get('a', 2, 3, 1),
      set('b', 4, 5, 10),
      cas('a', 6, 7, 10, 3, true),
      cas('b', 8, 9, 10, 4, false),
      add('a', 10, 11, -3, 0),
      get('b', 12, 13, 0),
    ];
    const result = checkCounterLinearizability(history);
    expect(result.result).toBe('linearizable');
    expect(result.linearization).toEqual(history);
  });

  it('accepts overlapping increments that return in any order', () => {
    // Three clients increment at once; the one called last got the smallest value.
    const history = [add('a', 0, 10, 1, 3), add('b', 1, 9, 1, 2), add('c', 2, 8, 1, 1), get('d', 11, 12, 3)];
    const result = checkCounterLinearizability(history);
    expect(result.ok).toBe(true);
    expect(result.linearization?.map((e) => e.client)).toEqual(['c', 'b', 'a', 'd']);
  });

  it('accepts a compareAndSet race with one winner', () => {
    const history = [cas('a', 0, 5, 0, 1, false), cas('b', 1, 4, 0, 2, true), get('c', 6, 7, 2)];
    expect(checkCounterLinearizability(history).ok).toBe(true);
  });

  it('accepts a read concurrent with a write seeing either value', () => {
    for (const seen of [0, 5]) {
      expect(checkCounterLinearizability([set('a', 0, 10, 5), get('b', 2, 3, seen)]).ok).toBe(true);
    }
  });

  it('treats equal timestamps as overlapping', () => {
    // b's get was called at the instant a's add returned; it may have been served first.
    expect(checkCounterLinearizability([add('a', 0, 5, 1, 1), get('b', 5, 6, 0)]).ok).toBe(true);
  });

  it('accepts correct bound failures', () => {
    const model: CounterModel = { min: 0, max: 2 };
    const history = [
      add('a', 0, 1, 2, 2),
      add('a', 2, 3, 1, { ok: false }),
      add('b', 4, 5, -3, { ok: false }),
      set('b', 6, 7, 9, { ok: false }),
      cas('a', 8, 9, 2, 7, { ok: false }),
      get('a', 10, 11, 2),
    ];
    expect(checkCounterLinearizability(history, model).ok).toBe(true);
  });

  it('lets a never-returned operation take effect, late', () => {
    const history = [add('a', 0, NEVER, 5), get('b', 100, 101, 0), get('b', 200, 201, 5)];
    expect(checkCounterLinearizability(history).ok).toBe(true);
  });

  it('lets a never-returned operation have no effect', () => {
    const history = [add('a', 0, NEVER, 5), get('b', 100, 101, 0), add('b', 102, 103, 1, 1)];
    expect(checkCounterLinearizability(history).ok).toBe(true);
  });

  it('ignores the output of a never-returned operation and drops never-returned reads', () => {
    const history = [add('a', 0, NEVER, 1, 99), get('b', 0, NEVER, 42), get('c', 5, 6, 1)];
    const result = checkCounterLinearizability(history);
    expect(result).toMatchObject({ ok: true, operations: 2 });
  });

  it('checks counters with different keys separately', () => {
    const history: CounterHistoryEntry[] = [
      { ...add('a', 0, 1, 1, 1), key: 'x' },
      { ...add('a', 2, 3, 1, 1), key: 'y' },
      { ...get('b', 4, 5, 1), key: 'x' },
    ];
    expect(checkCounterLinearizability(history)).toMatchObject({ ok: true, partitions: 2 });
  });

  it('starts from the model initial value', () => {
    expect(checkCounterLinearizability([add('a', 0, 1, 1, 11)], { initial: 10 }).ok).toBe(true);
  });
});

describe('known-bad histories', () => {
  function expectViolation(history: CounterHistoryEntry[], model: CounterModel = {}) {
    const result = checkCounterLinearizability(history, model);
    expect(result.result).toBe('violation');
    expect(result.ok).toBe(false);
    expect(result.explanation).toBeDefined();
    return result.explanation!;
  }

  it('rejects a stale read after a completed write', () => {
    const explanation = expectViolation([set('a', 0, 1, 5), get('b', 2, 3, 0)]);
    expect(explanation.unplaceable.client).toBe('b');
    expect(explanation.linearizedPrefix.map((e) => e.op)).toEqual(['set']);
    expect(explanation.valueAfterPrefix).toBe(5);
    expect(explanation.message).toMatch(/b: get\(\) -> 0/);
  });

  it('rejects two increments returning the same value', () => {
    const explanation = expectViolation([add('a', 0, 10, 1, 1), add('b', 1, 9, 1, 1)]);
    expect(explanation.open.length).toBeGreaterThanOrEqual(1);
  });

  it('rejects a lost update', () => {
    expectViolation([add('a', 0, 10, 1, 1), add('b', 1, 9, 1, 2), get('c', 11, 12, 1)]);
  });

  it('rejects a bound failure that should have succeeded', () => {
    const explanation = expectViolation([add('a', 0, 1, 5, 5), add('b', 2, 3, 1, { ok: false })], {
      max: 10,
    });
    expect(explanation.message).toMatch(/CounterBoundError/);
  });

  it('rejects a success that should have hit the bound', () => {
    expectViolation([add('a', 0, 1, -1, -1)], { min: 0 });
  });

  it('rejects an increment value that skipped', () => {
    expectViolation([add('a', 0, 1, 1, 1), add('a', 2, 3, 1, 3)]);
  });

  it('rejects a compareAndSet race with two winners', () => {
    expectViolation([cas('a', 0, 5, 0, 1, true), cas('b', 1, 4, 0, 2, true)]);
  });

  it('rejects a read from the future', () => {
    expectViolation([get('b', 0, 1, 1), add('a', 2, 3, 1, 1)]);
  });

  it('rejects a violation in one counter even when others are fine', () => {
    const history: CounterHistoryEntry[] = [
      { ...add('a', 0, 1, 1, 1), key: 'fine' },
      { ...add('a', 2, 3, 1, 5), key: 'broken' },
    ];
    expect(expectViolation(history).key).toBe('broken');
  });

  it('reports the deepest prefix and the concurrent candidates', () => {
    const history = [add('a', 0, 1, 1, 1), add('b', 2, 3, 1, 2), add('c', 4, 10, 1, 3), get('d', 5, 6, 7)];
    const explanation = expectViolation(history);
    expect(explanation.unplaceable.client).toBe('d');
    expect(explanation.linearizedPrefix.map((e) => e.client)).toEqual(['a', 'b', 'c']);
    expect(explanation.open.map((e) => e.client).sort()).toEqual(['d']);
  });
});

describe('input validation and budget', () => {
  it('rejects malformed entries with a typed error', () => {
    const bad: unknown[] = [
      { ...get('a', 0, 1, 1), call: Number.NaN },
      { ...get('a', 5, 1, 1) },
      { ...get('a', 0, 1, 1.5) },
      { ...add('a', 0, 1, 0.5, 1) },
      { ...add('a', 0, 1, 1, true as never) },
      { ...get('a', 0, 1), output: { ok: false } },
      { ...cas('a', 0, 1, 0, 1, 1 as never) },
      { ...set('a', 0, 1, 1), output: 3 },
      { client: 'a', op: 'mul', input: 2, call: 0, ret: 1 },
      { ...get('', 0, 1, 1) },
    ];
    for (const entry of bad) {
      expect(() => checkCounterLinearizability([entry as CounterHistoryEntry])).toThrow(InvalidHistoryError);
    }
    expect(() => checkCounterLinearizability([], { min: 5, max: 1 })).toThrow(InvalidHistoryError);
    expect(() => checkCounterLinearizability([], { min: 1 })).toThrow(/initial/);
  });

  it('answers unknown when the step budget runs out', () => {
    const history = simulate({ clients: 8, operations: 400, seed: 7 }).history;
    const result = checkCounterLinearizability(history, { maxSteps: 50 });
    expect(result).toMatchObject({ result: 'unknown', ok: false });
    expect(result.reason).toMatch(/step budget/);
  });
});

// ---------------------------------------------------------------------------------------
// Randomised: a simulated atomic counter produces linearizable histories by construction.

interface SimulationOptions {
  clients: number;
  operations: number;
  seed: number;
  /** Operation mix: 'all' (get/add/set/cas with bounds) or 'increments' (add(+1) and get). */
  mix?: 'all' | 'increments';
  /** Share of operations that never return. */
  pendingRate?: number;
  model?: Required<Pick<CounterModel, 'min' | 'max'>>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Each client issues operations one at a time with random think times and latencies; each
 * operation takes effect atomically at a random instant inside its [call, ret] window (a
 * never-returned one at a random later instant, or never). Outputs are computed by applying
 * the operations to one integer in effect order, so the history is linearizable.
 */
function simulate(options: SimulationOptions): { history: CounterHistoryEntry[]; model: CounterModel } {
  const random = mulberry32(options.seed);
  const mix = options.mix ?? 'all';
  const model = options.model ?? (mix === 'all' ? { min: -5, max: 12 } : { min: 0, max: 1e9 });
  const pendingRate = options.pendingRate ?? 0;
  const integer = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

  type Draft = { entry: Record<string, unknown> & { call: number; ret: number }; effectAt: number };
  const drafts: Draft[] = [];
  const perClient = Math.ceil(options.operations / options.clients);
  for (let c = 0; c < options.clients && drafts.length < options.operations; c++) {
    let clock = random() * 2;
    for (let i = 0; i < perClient && drafts.length < options.operations; i++) {
      const call = clock + random() * 0.5;
      const latency = random() < 0.1 ? random() * 8 : random() * 1.5;
      const pending = random() < pendingRate;
      const ret = pending ? NEVER : call + latency;
      const effectAt = pending ? (random() < 0.5 ? call + random() * 20 : NEVER) : call + random() * latency;
      const roll = random();
      let operation: Record<string, unknown>;
      if (mix === 'increments') operation = roll < 0.8 ? { op: 'add', input: 1 } : { op: 'get' };
      else if (roll < 0.3) operation = { op: 'get' };
      else if (roll < 0.75) operation = { op: 'add', input: integer(-3, 3) };
      else if (roll < 0.85) operation = { op: 'set', input: integer(model.min - 1, model.max + 1) };
      else operation = { op: 'compareAndSet', input: { expected: integer(-2, 6), next: integer(-6, 13) } };
      drafts.push({ entry: { client: `c${c}`, ...operation, call, ret }, effectAt });
      clock = call + latency;
    }
  }

  let value = 0;
  const inBounds = (v: number) => v >= model.min && v <= model.max;
  for (const draft of [...drafts].sort((a, b) => a.effectAt - b.effectAt)) {
    if (draft.effectAt === NEVER) continue;
    const entry = draft.entry;
    switch (entry.op) {
      case 'get':
        entry.output = value;
        break;
      case 'add': {
        const next = value + (entry.input as number);
        if (inBounds(next)) entry.output = value = next;
        else entry.output = { ok: false };
        break;
      }
      case 'set':
        if (inBounds(entry.input as number)) value = entry.input as number;
        else entry.output = { ok: false };
        break;
      case 'compareAndSet': {
        const { expected, next } = entry.input as { expected: number; next: number };
        if (!inBounds(next)) entry.output = { ok: false };
        else if (value === expected) {
          entry.output = true;
          value = next;
        } else entry.output = false;
      }
    }
  }
  return { history: drafts.map((d) => d.entry as unknown as CounterHistoryEntry), model };
}

/**
 * An independent, deliberately naive oracle for small histories: depth-first over every
 * order of the operations that respects real time, executing a plain counter. A
 * never-returned operation may be left out (the same as placing it last).
 */
function bruteForceLinearizable(history: CounterHistoryEntry[], model: CounterModel): boolean {
  const min = model.min ?? Number.MIN_SAFE_INTEGER;
  const max = model.max ?? Number.MAX_SAFE_INTEGER;
  const fits = (v: number) => v >= min && v <= max;
  const failed = (e: CounterHistoryEntry) => typeof e.output === 'object' && e.output !== null;
  const step = (value: number, e: CounterHistoryEntry): number | undefined => {
    const pending = e.ret === NEVER;
    switch (e.op) {
      case 'get':
        return pending || e.output === value ? value : undefined;
      case 'add': {
        const next = value + e.input;
        if (pending) return fits(next) ? next : value;
        if (failed(e)) return fits(next) ? undefined : value;
        return fits(next) && e.output === next ? next : undefined;
      }
      case 'set':
        if (pending) return fits(e.input) ? e.input : value;
        if (failed(e)) return fits(e.input) ? undefined : value;
        return fits(e.input) ? e.input : undefined;
      case 'compareAndSet': {
        const { expected, next } = e.input;
        const wins = value === expected && fits(next);
        if (pending) return wins ? next : value;
        if (failed(e)) return fits(next) ? undefined : value;
        if (e.output === true) return wins ? next : undefined;
        return value !== expected ? value : undefined;
      }
    }
  };
  const placed = new Set<number>();
  const search = (value: number): boolean => {
    if (history.every((e, i) => placed.has(i) || e.ret === NEVER)) return true;
    for (let i = 0; i < history.length; i++) {
      if (placed.has(i)) continue;
      const candidate = history[i]!;
      // Real time: nothing unplaced may have returned before this one was called.
      if (history.some((other, j) => j !== i && !placed.has(j) && other.ret < candidate.call)) continue;
      const after = step(value, candidate);
      if (after === undefined) continue;
      placed.add(i);
      const found = search(after);
      placed.delete(i);
      if (found) return true;
    }
    return false;
  };
  return search(model.initial ?? 0);
}

describe('randomised histories', () => {
  it('accepts every simulated atomic-counter history (all operations, bounds, timeouts)', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const { history, model } = simulate({
        clients: 1 + (seed % 8),
        operations: 60,
        seed,
        pendingRate: 0.03,
      });
      const result = checkCounterLinearizability(history, model);
      if (!result.ok) throw new Error(`seed ${seed}: ${result.explanation?.message ?? result.reason}`);
    }
  });

  it('agrees with a brute-force oracle on small histories, with timeouts, time ties and mutations', () => {
    const random = mulberry32(99);
    const verdicts = { linearizable: 0, violation: 0 };
    for (let seed = 1; seed <= 1500; seed++) {
      const mix = seed % 4 === 0 ? 'increments' : 'all';
      let { history, model } = simulate({
        clients: 2 + (seed % 4),
        operations: 4 + (seed % 6),
        seed,
        mix,
        pendingRate: 0.15,
      });
      // Whole-millisecond times make many calls coincide with returns (ties overlap).
      if (seed % 3 === 0) history = history.map(roundTimes);
      const mutations = Math.floor(random() * 3);
      for (let m = 0; m < mutations; m++) mutateOutput(history, random);
      const expected = bruteForceLinearizable(history, model);
      const result = checkCounterLinearizability(history, model);
      expect(result.result, `seed ${seed}: ${JSON.stringify(history)}`).toBe(
        expected ? 'linearizable' : 'violation',
      );
      verdicts[result.result as 'linearizable' | 'violation']++;
    }
    // Both verdicts must really be exercised for the agreement to mean anything.
    expect(verdicts.linearizable).toBeGreaterThan(400);
    expect(verdicts.violation).toBeGreaterThan(400);
  });

  it('rejects increment histories mutated to duplicate, skip or stale values', () => {
    const random = mulberry32(5);
    for (let seed = 1; seed <= 60; seed++) {
      const { history } = simulate({ clients: 8, operations: 200, seed, mix: 'increments' });
      const adds = history.filter((e) => e.op === 'add') as Array<CounterHistoryEntry & { output: number }>;
      const mutated = history.map((e) => ({ ...e })) as Array<CounterHistoryEntry & { output?: number }>;
      const kind = seed % 3;
      if (kind === 0) {
        // Two increments returning the same value: the results can no longer be 1..n.
        const [i, j] = twoDistinct(adds.length, random);
        mutated[history.indexOf(adds[j]!)]!.output = adds[i]!.output;
      } else if (kind === 1) {
        // An increment whose value skipped past every possible one.
        mutated[history.indexOf(adds[Math.floor(random() * adds.length)]!)]!.output = adds.length + 5;
      } else {
        // A read that returned less than an increment that completed before it was called.
        const reads = history.filter(
          (r) => r.op === 'get' && adds.some((a) => a.ret < r.call && a.output > 0),
        );
        const read = reads[Math.floor(random() * reads.length)]!;
        const floor = Math.max(...adds.filter((a) => a.ret < read.call).map((a) => a.output));
        mutated[history.indexOf(read)]!.output = floor - 1;
      }
      const result = checkCounterLinearizability(mutated as CounterHistoryEntry[]);
      expect(result.result, `seed ${seed}, mutation ${kind}`).toBe('violation');
    }
  });

  it('checks 3 000 operations from 16 clients well under a second', () => {
    for (const [mix, seed] of [
      ['increments', 11],
      ['all', 12],
    ] as const) {
      const { history, model } = simulate({ clients: 16, operations: 3000, seed, mix, pendingRate: 0.002 });
      const result = checkCounterLinearizability(history, model);
      expect(result.ok, result.explanation?.message).toBe(true);
      expect(result.operations).toBeGreaterThan(2900);
      // Typically 10-60 ms here; the bound is loose because the machine is shared.
      expect(result.elapsedMs).toBeLessThan(1000);
      console.info(
        `${mix}: ${result.operations} ops, ${result.steps} steps, ${result.elapsedMs.toFixed(1)} ms`,
      );
    }
  });

  it('proves a violation deep inside 3 000 operations with timeouts quickly', () => {
    const { history } = simulate({
      clients: 16,
      operations: 3000,
      seed: 14,
      mix: 'increments',
      pendingRate: 0.005,
    });
    const byCall = [...history].sort((a, b) => a.call - b.call);
    const victim = byCall.slice(2000).find((e) => e.op === 'add' && e.ret !== NEVER)!;
    const mutated = history.map((e) => (e === victim ? { ...e, output: (e.output as number) + 1000 } : e));
    const result = checkCounterLinearizability(mutated as CounterHistoryEntry[]);
    expect(result.result).toBe('violation');
    expect(result.explanation!.linearizedPrefix.length).toBeGreaterThan(1900);
    expect(result.elapsedMs).toBeLessThan(2000);
    console.info(`violation: ${result.steps} steps, ${result.elapsedMs.toFixed(1)} ms`);
  });

  it('keeps many identical timeouts cheap', () => {
    // 40 increments that never returned, then a read: 2^40 subsets without symmetry reduction.
    const history = [
      ...Array.from({ length: 40 }, (_, i) => add(`p${i}`, i, NEVER, 1)),
      get('r', 100, 101, 17),
      add('r', 102, 103, 1, 18),
    ];
    const result = checkCounterLinearizability(history, { maxSteps: 200_000 });
    expect(result.result).toBe('linearizable');
    const bad = checkCounterLinearizability([...history, get('r', 104, 105, 60)], { maxSteps: 200_000 });
    expect(bad.result).toBe('violation');
  });
});

function roundTimes(entry: CounterHistoryEntry): CounterHistoryEntry {
  const call = Math.round(entry.call);
  return { ...entry, call, ret: entry.ret === NEVER ? NEVER : Math.max(call, Math.round(entry.ret)) };
}

function twoDistinct(length: number, random: () => number): [number, number] {
  const i = Math.floor(random() * length);
  let j = Math.floor(random() * (length - 1));
  if (j >= i) j++;
  return [i, j];
}

/** Changes one returned result slightly; the result may or may not still be linearizable. */
function mutateOutput(history: CounterHistoryEntry[], random: () => number): void {
  const returned = history.filter((e) => e.ret !== NEVER);
  if (returned.length === 0) return;
  const target = returned[Math.floor(random() * returned.length)] as {
    -readonly [K in 'output']: unknown;
  } & CounterHistoryEntry;
  const index = history.indexOf(target);
  const copy = { ...target } as Record<string, unknown>;
  if (target.op === 'compareAndSet') copy.output = target.output !== true;
  else if (target.op === 'set') copy.output = target.output === undefined ? { ok: false } : undefined;
  else if (typeof target.output === 'number') copy.output = target.output + (random() < 0.5 ? 1 : -1);
  else copy.output = 0;
  history[index] = copy as unknown as CounterHistoryEntry;
}
