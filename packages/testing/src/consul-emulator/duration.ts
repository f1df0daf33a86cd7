/**
 * Consul reads every duration (session `TTL`, `LockDelay`, the blocking `wait`) with Go's
 * `time.ParseDuration`, so the emulator accepts exactly that grammar: an optional sign, then either
 * `0` or one or more `<decimal><unit>` pairs (`1h30m`, `1.5s`, `250ms`). Units: ns, us, µs, ms, s, m, h.
 */

const NANOS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 MICRO SIGN
  μs: 1e3, // U+03BC GREEK SMALL LETTER MU
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

// Longest units first inside the alternation so `ms` is not read as `m` followed by garbage.
const PAIR = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;

/** Go's time.Duration is an int64 of nanoseconds (max 2^63 - 1); anything larger overflows there too. */
const MAX_NANOS = 2 ** 63;

/**
 * Parses a Go duration string into nanoseconds.
 *
 * @returns the duration in nanoseconds (may be negative), or `undefined` when Go would reject
 *   the text (missing unit, unknown unit, empty, overflow).
 */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest.length > 0) {
    const match = PAIR.exec(rest);
    if (!match) return undefined;
    const [whole, integer = '', fraction, unit = ''] = match;
    if (integer === '' && (fraction === undefined || fraction === '')) return undefined;
    const amount = Number(integer || '0') + (fraction ? Number(`0.${fraction}`) : 0);
    total += amount * (NANOS_PER_UNIT[unit] ?? Number.NaN);
    rest = rest.slice(whole.length);
  }
  if (!Number.isFinite(total) || total >= MAX_NANOS) return undefined;
  return sign * Math.trunc(total);
}

/** Formats nanoseconds the way the emulator reports them in human-facing messages (`1.5s`). */
export function formatNanos(nanos: number): string {
  return `${nanos / 1e9}s`;
}
