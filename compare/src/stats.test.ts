import { describe, expect, it } from 'vitest';
import {
  compareFigures,
  compareMeans,
  InvalidSampleError,
  isFigure,
  LatencyRecorder,
  latencyFigure,
  opsPerSecond,
  percentile,
  rateFigure,
  ratioFigure,
  summarize,
  throughputFigure,
} from './stats.js';

describe('percentile (nearest rank)', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('returns the sample at rank ceil(p/100 × n)', () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile(oneToHundred, 0.5)).toBe(1);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
  });

  it('never interpolates: with few samples p99 is the maximum', () => {
    expect(percentile([1, 2, 3], 99)).toBe(3);
    expect(percentile([7], 50)).toBe(7);
  });

  it('rejects empty input and out-of-range percentiles', () => {
    expect(() => percentile([], 50)).toThrow(InvalidSampleError);
    expect(() => percentile([1], 0)).toThrow(InvalidSampleError);
    expect(() => percentile([1], 101)).toThrow(InvalidSampleError);
    expect(() => percentile([1], Number.NaN)).toThrow(InvalidSampleError);
  });
});

describe('summarize', () => {
  it('sorts, averages and ranks unsorted samples', () => {
    const summary = summarize([5, 1, 4, 2, 3]);
    expect(summary).toEqual({ count: 5, mean: 3, min: 1, p50: 3, p90: 5, p99: 5, max: 5 });
  });

  it('rejects empty, negative and non-finite samples', () => {
    expect(() => summarize([])).toThrow(InvalidSampleError);
    expect(() => summarize([1, -0.5])).toThrow(InvalidSampleError);
    expect(() => summarize([1, Number.POSITIVE_INFINITY])).toThrow(InvalidSampleError);
    expect(() => summarize([Number.NaN])).toThrow(/finite/);
  });
});

describe('LatencyRecorder', () => {
  it('records samples and produces the ms figure', () => {
    const recorder = new LatencyRecorder();
    for (let i = 1; i <= 200; i++) recorder.record(i / 10);
    expect(recorder.count).toBe(200);
    expect(recorder.figure()).toEqual({ p50: 10, p99: 19.8, mean: 10.05, unit: 'ms' });
    // A mean measured over whole slices replaces the samples' own.
    expect(recorder.figure(12.5).mean).toBe(12.5);
    expect(recorder.summary().mean).toBeCloseTo(10.05, 10);
  });

  it('times an operation, including one that rejects', async () => {
    const recorder = new LatencyRecorder();
    expect(await recorder.time(async () => 42)).toBe(42);
    await expect(
      recorder.time(async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(recorder.count).toBe(2);
    for (const sample of recorder.samples()) expect(sample).toBeGreaterThanOrEqual(0);
  });

  it('refuses a bad sample without storing it', () => {
    const recorder = new LatencyRecorder();
    expect(() => recorder.record(-1)).toThrow(InvalidSampleError);
    expect(recorder.count).toBe(0);
    expect(() => recorder.summary()).toThrow(InvalidSampleError);
  });
});

describe('figures', () => {
  it('computes throughput', () => {
    expect(opsPerSecond(500, 250)).toBe(2000);
    expect(throughputFigure(1000, 3000)).toEqual({ value: 333.3, unit: 'ops/s' });
    expect(() => opsPerSecond(10, 0)).toThrow(InvalidSampleError);
    expect(() => opsPerSecond(-1, 10)).toThrow(InvalidSampleError);
  });

  it('builds each FIGURE shape, rounded', () => {
    expect(latencyFigure([0.123456789, 0.2])).toEqual({ p50: 0.1235, p99: 0.2, mean: 0.1617, unit: 'ms' });
    expect(rateFigure(1234.567)).toEqual({ value: 1234.6, unit: 'ops/s' });
    expect(ratioFigure(0.876543)).toEqual({ value: 0.8765, unit: 'ratio' });
    expect(() => ratioFigure(Number.NaN)).toThrow(InvalidSampleError);
  });

  it('recognises figures and compares like with like', () => {
    expect(isFigure({ p50: 1, p99: 2, unit: 'ms' })).toBe(true);
    expect(isFigure({ value: 1, unit: 'ops/s' })).toBe(true);
    expect(isFigure({ value: 1, unit: 'furlongs' })).toBe(false);
    expect(isFigure({ p50: '1', p99: 2, unit: 'ms' })).toBe(false);
    expect(compareFigures({ p50: 2, p99: 9, unit: 'ms' }, { p50: 1, p99: 1, unit: 'ms' })).toBe(2);
    expect(compareFigures({ value: 2, unit: 'ops/s' }, { p50: 1, p99: 1, unit: 'ms' })).toBeUndefined();
    expect(compareFigures({ value: 2, unit: 'ops/s' }, { value: 0, unit: 'ops/s' })).toBeUndefined();
    const a = { p50: 2, p99: 9, mean: 6, unit: 'ms' } as const;
    expect(compareMeans(a, { p50: 1, p99: 1, mean: 2, unit: 'ms' })).toBe(3);
    expect(compareMeans(a, { p50: 1, p99: 1, unit: 'ms' })).toBeUndefined();
    expect(isFigure({ p50: 1, p99: 2, mean: 'x', unit: 'ms' })).toBe(false);
  });
});
