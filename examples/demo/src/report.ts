/** Terminal output: a timeline line per event and the closing summary. */
const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
export const colour = {
  dim: paint(2),
  bold: paint(1),
  red: paint(31),
  green: paint(32),
  yellow: paint(33),
  cyan: paint(36),
  worker: (n: number) => paint([36, 35, 34, 33, 32, 96, 95, 94][n % 8]!)(`worker ${n}`),
};

export function line(elapsedMs: number, text: string): void {
  console.log(`${colour.dim(`${(elapsedMs / 1000).toFixed(3).padStart(7)}s`)}  ${text}`);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
