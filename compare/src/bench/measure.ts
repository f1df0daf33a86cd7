/**
 * The two ways the harness times an operation: one caller in sequence (latency, p50/p99)
 * and many callers at once (throughput). Both warm up first, then run for a fixed time box,
 * so a slow backend takes as long as a fast one and the whole compare stays bounded.
 * @module
 */
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { type LatencyFigure, LatencyRecorder, type RateFigure, throughputFigure } from '../stats.js';

/** Time box of one measurement. */
export interface TimeBox {
  /** Untimed run before measuring (connections, JIT, caches). */
  readonly warmupMs: number;
  /** Timed run. */
  readonly durationMs: number;
  /**
   * Interleaved groups only: calls each operation makes before measuring starts, so that
   * ratios compare code the JIT has finished with (an etcd lock cycle through lockstep took
   * about 4,000 calls to settle: 1.8 ms of client CPU per cycle at first, 0.8 ms after).
   * Bounded by {@link TimeBox.warmupMaxMs}. Default 0.
   */
  readonly warmupOps?: number;
  /** The longest an interleaved group warms up while chasing `warmupOps`. */
  readonly warmupMaxMs?: number;
}

/** Defaults: short enough for 8 backends × 8 metrics in a few minutes, long enough for stable medians. */
export const DEFAULT_TIME_BOX: TimeBox = {
  warmupMs: 250,
  durationMs: 1_500,
  warmupOps: 4_000,
  warmupMaxMs: 20_000,
};

/** Most samples kept per latency metric (an in-process op can run millions of times). */
const MAX_SAMPLES = 200_000;

/**
 * Calls `op` back to back, one at a time: warm-up, then records each call's latency until
 * the time box ends (or {@link MAX_SAMPLES}). Fast synchronous-ish ops yield to the event
 * loop now and then so timers (lease renewals) still run. The figure's mean is the timed
 * window over the number of calls.
 */
export async function measureLatency(
  op: () => Promise<void>,
  box: TimeBox = DEFAULT_TIME_BOX,
): Promise<LatencyFigure> {
  const warmupEnd = performance.now() + box.warmupMs;
  let calls = 0;
  while (performance.now() < warmupEnd) {
    await op();
    if (++calls % 256 === 0) await yieldTurn();
  }
  const recorder = new LatencyRecorder();
  const started = performance.now();
  const end = started + box.durationMs;
  let stopped = started;
  while (recorder.count < MAX_SAMPLES) {
    const start = performance.now();
    if (start >= end) break;
    await op();
    stopped = performance.now();
    recorder.record(stopped - start);
    if (recorder.count % 256 === 0) await yieldTurn();
  }
  // The mean is the whole timed window over the calls made in it: what each call really cost
  // the process, including what happens between calls (timers, garbage collection).
  return recorder.figure((stopped - started) / recorder.count);
}

/**
 * Runs `concurrency` callers, each calling `op` in a loop, for the time box; returns
 * completed calls per second over the timed window (calls that end after it are not counted,
 * calls in flight at its start are counted when they end inside it).
 */
export async function measureThroughput(
  op: () => Promise<void>,
  concurrency: number,
  box: TimeBox = DEFAULT_TIME_BOX,
): Promise<RateFigure> {
  const warmupEnd = performance.now() + box.warmupMs;
  const end = warmupEnd + box.durationMs;
  let completed = 0;
  const caller = async () => {
    let calls = 0;
    for (;;) {
      if (performance.now() >= end) return;
      await op();
      const now = performance.now();
      if (now >= warmupEnd && now < end) completed++;
      if (++calls % 256 === 0) await yieldTurn();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  return throughputFigure(completed, box.durationMs);
}

/** How long each operation of an interleaved group runs before the next takes a turn. */
const SLICE_MS = 25;

/**
 * Times operations that will be compared as ratios (lockstep, its hand-written floor, the
 * peer libraries) in turns of short slices within one time box — each gets
 * `box.durationMs` of measured time in all — so a change in machine load affects them all
 * alike instead of whichever happened to run at a quiet moment. Figures come back in the
 * order of `ops`; each one's mean is its timed slices' total time over its calls in them.
 */
export async function measureLatencyGroup(
  ops: ReadonlyArray<() => Promise<void>>,
  box: TimeBox = DEFAULT_TIME_BOX,
): Promise<LatencyFigure[]> {
  const sides = ops.map((op) => ({ op, recorder: new LatencyRecorder(), warmupCalls: 0, timedMs: 0 }));
  // Warm up as long as one operation is measured, and until every operation has made
  // `warmupOps` calls (within `warmupMaxMs`): the longer code path (lockstep's, not the floor's
  // few lines) takes thousands of calls to be fully compiled, and a short warm-up would charge
  // it for its own JIT (seen on etcd: 1.10× the floor after 1.5 s of warm-up, 1.02–1.05× after
  // 4,000 calls each).
  const started = performance.now();
  const minEnd = started + Math.max(box.warmupMs, box.durationMs);
  const maxEnd = Math.max(minEnd, started + (box.warmupMaxMs ?? 0));
  const warmupOps = box.warmupOps ?? 0;
  for (let turn = 0; ; turn++) {
    const now = performance.now();
    if (now >= maxEnd) break;
    if (now >= minEnd && sides.every((side) => side.warmupCalls >= warmupOps)) break;
    const side = sides[turn % sides.length]!;
    const sliceEnd = Math.min(maxEnd, now + SLICE_MS);
    while (performance.now() < sliceEnd) {
      await side.op();
      side.warmupCalls++;
    }
    await yieldTurn();
  }
  const end = performance.now() + sides.length * box.durationMs;
  for (let turn = 0; performance.now() < end; turn++) {
    const side = sides[turn % sides.length]!;
    const sliceStart = performance.now();
    const sliceEnd = Math.min(end, sliceStart + SLICE_MS);
    let sliceStop = sliceStart;
    while (side.recorder.count < MAX_SAMPLES) {
      const start = performance.now();
      if (start >= sliceEnd) break;
      await side.op();
      sliceStop = performance.now();
      side.recorder.record(sliceStop - start);
    }
    side.timedMs += sliceStop - sliceStart;
    await yieldTurn();
  }
  return sides.map((side) => side.recorder.figure(side.timedMs / side.recorder.count));
}
