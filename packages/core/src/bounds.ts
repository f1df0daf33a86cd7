/**
 * Counter arithmetic shared by every adapter that checks bounds itself (memory, file and
 * the compare-and-swap backends): one definition of "would this add cross a bound".
 * @module
 */
import type { AddOutcome } from './driver.js';

/** Bounds of a counter; the safe-integer range always applies. */
export interface CounterBounds {
  readonly min?: number;
  readonly max?: number;
}

/** The effective lower and upper limit, including the safe-integer range. */
export function effectiveBounds(bounds: CounterBounds): { min: number; max: number } {
  return {
    min: bounds.min ?? Number.MIN_SAFE_INTEGER,
    max: bounds.max ?? Number.MAX_SAFE_INTEGER,
  };
}

/** What adding `delta` to `current` gives, or which bound it would cross. */
export function applyDelta(current: number, delta: number, bounds: CounterBounds): AddOutcome {
  const { min, max } = effectiveBounds(bounds);
  const attempted = current + delta;
  if (attempted > max) return { ok: false, bound: 'max', limit: max, attempted };
  if (attempted < min) return { ok: false, bound: 'min', limit: min, attempted };
  return { ok: true, value: attempted };
}

/**
 * A compare-and-swap loop for backends whose only atomic primitive is a versioned write
 * (etcd `mod_revision`, ZooKeeper `version`, Consul `ModifyIndex`). `read` returns the
 * current value and its version; `write` stores `next` only if the version is unchanged and
 * says whether it did. Bounds are checked against the value the CAS guards, so a violating
 * add writes nothing. Returns the outcome and how many retries contention cost.
 */
export async function casAdd<V>(
  read: () => Promise<{ value: number; version: V }>,
  write: (next: number, version: V) => Promise<boolean | { value: number; version: V }>,
  delta: number,
  bounds: CounterBounds,
): Promise<AddOutcome & { retries: number }> {
  let retries = 0;
  let seen = await read();
  for (;;) {
    const outcome = applyDelta(seen.value, delta, bounds);
    if (!outcome.ok) return { ...outcome, retries };
    const written = await write(outcome.value, seen.version);
    if (written === true) return { ...outcome, retries };
    retries++;
    // A backend that returns the current state with a failed CAS saves a round trip.
    seen = written === false ? await read() : written;
  }
}
