/**
 * Durations on the command line: `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds
 * (as `flock -w` and `timeout` read them).
 * @module
 */

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds in `text`, or `undefined` when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNITS[match[2] ?? 's']!;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}
