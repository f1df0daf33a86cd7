import { describe, expect, it } from 'vitest';
import { heapAfterGc } from './heap.js';

describe('heapAfterGc', () => {
  it('counts what is still reachable: a retained array raises it, the same array dropped does not', () => {
    const base = heapAfterGc();
    let retained: number[][] | undefined = Array.from({ length: 1_000 }, () => new Array(1_000).fill(1));
    const withArrays = heapAfterGc();
    expect(withArrays - base).toBeGreaterThan(4_000_000);
    expect(retained.length).toBe(1_000);
    retained = undefined;
    expect(heapAfterGc() - base).toBeLessThan(1_000_000);
  });
});
