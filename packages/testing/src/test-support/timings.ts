/** Start-up figures collected by the tests and printed at the end of a file, for the record. */
const figures: { what: string; ms: number }[] = [];

export function recordTiming(what: string, ms: number): void {
  figures.push({ what, ms: Math.round(ms) });
}

export function printTimings(title: string): void {
  if (figures.length === 0) return;
  const lines = figures.map((f) => `  ${f.what.padEnd(40)} ${String(f.ms).padStart(6)} ms`);
  process.stdout.write(`\n${title}\n${lines.join('\n')}\n`);
}

export async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  recordTiming(what, performance.now() - started);
  return result;
}
