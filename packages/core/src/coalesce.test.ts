import { describe, expect, it } from 'vitest';
import { applyDelta } from './bounds.js';
import { AddCoalescer } from './coalesce.js';
import type { AddOutcome } from './driver.js';

function backend(bounds: { min?: number; max?: number } = {}) {
  let value = 0;
  const calls: number[] = [];
  const send = async (delta: number): Promise<AddOutcome> => {
    calls.push(delta);
    await new Promise((r) => setTimeout(r, 2));
    const outcome = applyDelta(value, delta, bounds);
    if (outcome.ok) value = outcome.value;
    return outcome;
  };
  return { send, calls, value: () => value };
}

describe('AddCoalescer', () => {
  it('merges concurrent adds into few backend calls with distinct, serial results', async () => {
    const b = backend();
    const c = new AddCoalescer(b.send, false);
    const results = await Promise.all(Array.from({ length: 64 }, () => c.add(1)));
    const values = results.map((r) => (r.ok ? r.value : Number.NaN));
    expect([...values].sort((x, y) => x - y)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(b.value()).toBe(64);
    expect(b.calls.length).toBeLessThanOrEqual(2);
  });

  it('with bounds, a refused batch is replayed one by one so each caller gets its own answer', async () => {
    const b = backend({ max: 10 });
    const c = new AddCoalescer(b.send, true);
    await c.add(8);
    const results = await Promise.all([c.add(1), c.add(1), c.add(1)]);
    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
    expect(b.value()).toBe(10);
  });

  it('with bounds, never mixes signs in one batch', async () => {
    const b = backend({ min: 0 });
    const c = new AddCoalescer(b.send, true);
    const first = c.add(1);
    const rest = [c.add(-1), c.add(-1), c.add(5)];
    await first;
    const results = await Promise.all(rest);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    for (const delta of b.calls) expect(delta === 0).toBe(false);
    expect(b.value()).toBe(5);
  });

  it('rejects every member of a batch when the backend call fails', async () => {
    let calls = 0;
    const c = new AddCoalescer(async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 1));
      throw new Error('down');
    }, false);
    const all = await Promise.allSettled([c.add(1), c.add(1), c.add(1)]);
    expect(all.every((r) => r.status === 'rejected')).toBe(true);
    expect(calls).toBe(2);
  });
});
