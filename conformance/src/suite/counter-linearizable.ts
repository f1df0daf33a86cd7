/**
 * counter.linearizable: several clients issue a random mix of counter operations at once;
 * the recorded history (call and return times on this process's clock) must be
 * linearizable against a single atomic counter — checked with the Wing–Gong–Lowe search.
 * @module
 */
import { type Counter, CounterBoundError } from '@lockstep/core';
import type { CounterHistoryEntry, CounterOperation } from '../checkers/counter-model.js';
import { checkCounterLinearizability } from '../checkers/linearizability.js';
import { check } from './assert.js';
import { requireCounters } from './support.js';
import { fmt } from './timing.js';
import type { ConformanceTest, TestContext } from './types.js';

/** Coordinators (own connections) × logical callers per coordinator (they share coalescing). */
const COORDINATORS = 3;
const CALLERS_PER_COORDINATOR = 2;
const OPS_PER_CALLER = 40;

/** A small deterministic PRNG, so a failing history can be reproduced from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

type Planned =
  | { op: 'get' }
  | { op: 'add'; input: number }
  | { op: 'set'; input: number }
  | { op: 'cas'; next: number };

function plan(random: () => number, bounded: boolean): Planned {
  const r = random();
  if (r < 0.25) return { op: 'get' };
  if (r < 0.7) return { op: 'add', input: Math.floor(random() * 3) + 1 };
  if (r < 0.85) return { op: 'add', input: -(Math.floor(random() * 3) + 1) };
  if (r < 0.9) return { op: 'set', input: Math.floor(random() * (bounded ? 10 : 50)) };
  return { op: 'cas', next: Math.floor(random() * (bounded ? 10 : 50)) };
}

/** Runs one caller's operations in sequence, recording each one. */
async function caller(
  counter: Counter,
  client: string,
  random: () => number,
  bounded: boolean,
  history: CounterHistoryEntry[],
): Promise<void> {
  let lastSeen = 0;
  for (let i = 0; i < OPS_PER_CALLER; i++) {
    const step = plan(random, bounded);
    const call = performance.now();
    let operation: CounterOperation;
    try {
      switch (step.op) {
        case 'get':
          lastSeen = await counter.get();
          operation = { op: 'get', output: lastSeen };
          break;
        case 'add': {
          const value =
            step.input > 0 ? await counter.increment(step.input) : await counter.decrement(-step.input);
          lastSeen = value;
          operation = { op: 'add', input: step.input, output: value };
          break;
        }
        case 'set':
          await counter.set(step.input);
          operation = { op: 'set', input: step.input };
          break;
        case 'cas': {
          // Expect what this caller saw last, so some CAS calls win and some lose.
          const won = await counter.compareAndSet(lastSeen, step.next);
          operation = { op: 'compareAndSet', input: { expected: lastSeen, next: step.next }, output: won };
          break;
        }
      }
    } catch (error) {
      if (!(error instanceof CounterBoundError)) throw error;
      operation =
        step.op === 'add'
          ? { op: 'add', input: step.input, output: { ok: false } }
          : step.op === 'set'
            ? { op: 'set', input: step.input, output: { ok: false } }
            : {
                op: 'compareAndSet',
                input: { expected: lastSeen, next: (step as { next: number }).next },
                output: { ok: false },
              };
    }
    history.push({ ...operation, client, call, ret: performance.now() } as CounterHistoryEntry);
  }
}

async function recordHistory(
  ctx: TestContext,
  bounds: { min?: number; max?: number },
  seed: number,
): Promise<CounterHistoryEntry[]> {
  const coordinators = await ctx.clients(COORDINATORS);
  const name = ctx.name(bounds.max === undefined ? 'linearizable' : 'linearizable-bounded');
  const history: CounterHistoryEntry[] = [];
  const bounded = bounds.max !== undefined;
  await Promise.all(
    coordinators.flatMap((coordinator, c) =>
      Array.from({ length: CALLERS_PER_COORDINATOR }, (_, k) =>
        caller(coordinator.counter(name, bounds), `c${c}.${k}`, prng(seed + c * 101 + k), bounded, history),
      ),
    ),
  );
  return history;
}

export const counterLinearizable: ConformanceTest = {
  id: 'counter.linearizable',
  title: 'a recorded concurrent history passes a linearizability check',
  requires: requireCounters,
  async run(ctx) {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const runs: Array<{ label: string; bounds: { min?: number; max?: number } }> = [
      { label: 'unbounded', bounds: {} },
    ];
    if (ctx.capabilities.counter.bounds) runs.push({ label: 'bounded [0, 12]', bounds: { min: 0, max: 12 } });
    for (const { label, bounds } of runs) {
      const history = await recordHistory(ctx, bounds, seed);
      const verdict = checkCounterLinearizability(history, { initial: 0, ...bounds, timeoutMs: 20_000 });
      ctx.log(
        `${label}: ${verdict.operations} operations from ${COORDINATORS * CALLERS_PER_COORDINATOR} callers → ${verdict.result} (${verdict.steps} steps, ${fmt(verdict.elapsedMs)}; seed ${seed})`,
      );
      check(
        verdict.result !== 'violation',
        `${label} history is not linearizable (seed ${seed}): ${verdict.explanation?.message}`,
      );
      check(verdict.ok, `${label} history could not be checked: ${verdict.reason}`);
    }
  },
};
