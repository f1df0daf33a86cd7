/**
 * Counter arithmetic shared by every adapter that checks bounds itself (memory, file and
 * the compare-and-swap backends): one definition of "would this add cross a bound".
 * @module
 */
import type { AddOutcome } from './driver.js';
import { BackendUnavailableError } from './errors.js';

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

/** A counter as a compare-and-swap backend stores it: its value and the version a CAS must name. */
export interface CasState<V> {
  readonly value: number;
  readonly version: V;
}

/**
 * A compare-and-swap loop for backends whose only atomic primitive is a versioned write
 * (etcd `mod_revision`, ZooKeeper `version`, Consul `ModifyIndex`). `read` returns the
 * current value and its version; `write` stores `next` only if the version is unchanged and
 * says whether it did. Bounds are checked against the value the CAS guards, so a violating
 * add writes nothing. Returns the outcome and how many retries contention cost.
 */
export async function casAdd<V>(
  read: () => Promise<CasState<V>>,
  write: (next: number, version: V) => Promise<boolean | CasState<V>>,
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

/**
 * {@link casAdd} for an adapter that remembers the last state it saw of each counter, so an
 * add from a warm coordinator skips the read (one round trip instead of two). `remembered`
 * (when known) is only ever used to propose a write the server checks; a stale one costs one
 * retry. A bound that looks crossed on the remembered value, before any retry, is judged again
 * on a fresh `read`, so `CounterBoundError` is never reported from a stale memory.
 */
export async function casAddRemembered<V>(
  remembered: CasState<V> | undefined,
  read: () => Promise<CasState<V>>,
  write: (next: number, version: V) => Promise<boolean | CasState<V>>,
  delta: number,
  bounds: CounterBounds,
): Promise<AddOutcome> {
  let outcome = await casAdd(remembered ? () => Promise.resolve(remembered) : read, write, delta, bounds);
  if (!outcome.ok && outcome.retries === 0 && remembered !== undefined) {
    outcome = await casAdd(read, write, delta, bounds);
  }
  const { retries: _, ...result } = outcome;
  return result as AddOutcome;
}

/**
 * A counter value stored as a decimal string (by the key-value backends): the safe integer it
 * holds. Anything else means something other than lockstep wrote the key, reported as
 * `BackendUnavailableError` for `backend` rather than read as a wrong number.
 */
export function parseCounterValue(backend: string, key: string, text: string): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new BackendUnavailableError(
      backend,
      `counter key ${JSON.stringify(key)} holds ${JSON.stringify(text.slice(0, 40))}, not a safe integer; something other than lockstep wrote it`,
    );
  }
  return value;
}
