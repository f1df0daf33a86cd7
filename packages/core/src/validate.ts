/**
 * Argument checks that run before any I/O, so bad input never reaches a backend.
 * @module
 */
import { InvalidArgumentError } from './errors.js';

/** Longest TTL accepted anywhere (about 24.8 days: the largest setTimeout delay). */
export const MAX_TTL_MS = 2_147_483_647;

/** A positive integer number of milliseconds, within `[min, MAX_TTL_MS]`. */
export function validateTtl(ttlMs: unknown, minTtlMs = 1, what = 'ttlMs'): number {
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs)) {
    throw new InvalidArgumentError(what, `must be an integer number of milliseconds, got ${String(ttlMs)}`);
  }
  if (ttlMs < minTtlMs) throw new InvalidArgumentError(what, `must be at least ${minTtlMs} ms, got ${ttlMs}`);
  if (ttlMs > MAX_TTL_MS)
    throw new InvalidArgumentError(what, `must be at most ${MAX_TTL_MS} ms, got ${ttlMs}`);
  return ttlMs;
}

/** `waitMs`: undefined (wait forever) or a finite non-negative number. */
export function validateWaitMs(waitMs: unknown): number | undefined {
  if (waitMs === undefined) return undefined;
  if (typeof waitMs !== 'number' || Number.isNaN(waitMs) || waitMs < 0) {
    throw new InvalidArgumentError('waitMs', `must be a non-negative number, got ${String(waitMs)}`);
  }
  if (waitMs === Number.POSITIVE_INFINITY) return undefined;
  if (waitMs > MAX_TTL_MS) throw new InvalidArgumentError('waitMs', `must be at most ${MAX_TTL_MS} ms`);
  return waitMs;
}

/**
 * A timeout option (`connectTimeoutMs`, `requestTimeoutMs`, …): a positive finite number of
 * milliseconds up to {@link MAX_TTL_MS} (the largest delay a timer takes), or `fallback` when
 * the option is absent.
 */
export function validateTimeoutMs(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TTL_MS) {
    throw new InvalidArgumentError(what, `must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

/** A safe integer (counter values and bounds). */
export function validateSafeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(
      what,
      `must be a safe integer (|n| <= ${Number.MAX_SAFE_INTEGER}), got ${describe(value)}`,
    );
  }
  return value;
}

/** A positive safe integer (increment/decrement amounts). */
export function validateAmount(value: unknown, what = 'by'): number {
  const n = validateSafeInteger(value, what);
  if (n <= 0) throw new InvalidArgumentError(what, `must be a positive integer, got ${n}`);
  return n;
}

/** An AbortSignal or undefined. */
export function validateSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new InvalidArgumentError('signal', 'must be an AbortSignal');
  return signal;
}

/** A boolean option or its default. */
export function validateBoolean(value: unknown, what: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new InvalidArgumentError(what, `must be a boolean, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  return String(value);
}
