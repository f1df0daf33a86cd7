/**
 * Run a job once per time slot across many instances.
 *
 * Every instance ticks; at each tick it tries the job's lock without waiting. The winner
 * checks the job's "last run slot" counter, runs the job only if this slot has not run yet,
 * and records the slot with compareAndSet — so a fast winner that releases early cannot let
 * a slower instance run the same slot again. The job gets `handle.signal`, which aborts if
 * the lock is lost mid-run.
 */
import type { Coordinator } from '@lockstep/core';

export interface ScheduleOptions {
  /** Job name: the lock and counter names derive from it. */
  readonly job: string;
  /** Slot length in ms. */
  readonly intervalMs: number;
  /** The work; must honour `signal`. */
  readonly run: (signal: AbortSignal, slot: number) => Promise<void>;
  /** Lease for the job's lock. */
  readonly ttlMs?: number;
}

export type TickOutcome = 'ran' | 'busy' | 'already-ran';

/** One tick of one instance. */
export async function tick(
  coord: Coordinator,
  options: ScheduleOptions,
  now = Date.now(),
): Promise<TickOutcome> {
  const slot = Math.floor(now / options.intervalMs);
  const held = await coord.lock(`cron:${options.job}`, { ttlMs: options.ttlMs }).tryAcquire();
  if (!held) return 'busy';
  try {
    const lastRun = coord.counter(`cron:${options.job}:last-slot`);
    const last = await lastRun.get();
    if (last >= slot) return 'already-ran';
    await options.run(held.signal, slot);
    held.signal.throwIfAborted();
    // The lock makes this uncontended; compareAndSet keeps it correct even if it was lost.
    return (await lastRun.compareAndSet(last, slot)) ? 'ran' : 'already-ran';
  } finally {
    await held.release();
  }
}

/** Ticks every `intervalMs / 4` until `signal` aborts. */
export async function schedule(
  coord: Coordinator,
  options: ScheduleOptions,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    await tick(coord, options);
    await new Promise((r) => setTimeout(r, options.intervalMs / 4));
  }
}
