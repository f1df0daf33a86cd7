/**
 * The matrix for a terminal: fixed-width columns, colour only on a TTY.
 * @module
 */
import type { Report } from './types.js';
import {
  benchRows,
  columnsOf,
  formatFigure,
  formatRatioCell,
  LOOPBACK_NOTE,
  ratioRows,
  statusGlyph,
  type TestCell,
  testMatrix,
} from './view.js';

/** Options of {@link renderMatrix}. */
export interface RenderMatrixOptions {
  /**
   * Colour the statuses with ANSI escapes. Default: only when stdout is a TTY and
   * `NO_COLOR` is not set (https://no-color.org).
   */
  readonly color?: boolean;
  /** Include the benchmark figures under the test matrix. Default `true`. */
  readonly bench?: boolean;
}

const ANSI = {
  green: '\x1b[32m',
  red: '\x1b[31m',
  dim: '\x1b[2m',
  yellow: '\x1b[33m',
  bold: '\x1b[1m',
  reset: '\x1b[0m',
};

/**
 * The test-by-backend matrix as fixed-width text, then the failure and skip reasons
 * (numbered like the footnotes of `report.md`), the emulator caveats, the runs that ended
 * early, and the bench figures with lockstep's ratios to its baselines (p50 and mean). Emulator-sourced columns are marked `*` and explained below the table. Padding
 * is computed before colouring, so columns stay aligned with colour on.
 */
export function renderMatrix(report: Report<object>, options: RenderMatrixOptions = {}): string {
  const color = options.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR);
  const paint = (code: keyof typeof ANSI, value: string) =>
    color ? `${ANSI[code]}${value}${ANSI.reset}` : value;
  const columns = columnsOf(report);
  const headers = columns.map((column) => (column.caveat === undefined ? column.label : `${column.label}*`));
  const lines: string[] = [];

  const matrix = testMatrix(report);
  const cellText = (cell: TestCell) =>
    statusGlyph(cell.status) + (cell.note === undefined ? '' : `[${cell.note}]`);
  const rows = matrix.rows.map((row) => [row.id, ...row.cells.map(cellText)]);
  const totals = ['passed', ...matrix.totals.map((t) => `${t.pass}/${t.pass + t.fail + t.skip}`)];
  const widths = columnWidths([['test', ...headers], ...rows, totals]);
  const paintCell = (cell: TestCell | undefined, padded: string) => {
    if (cell === undefined) return padded;
    if (cell.status === 'pass') return paint('green', padded);
    if (cell.status === 'fail') return paint('red', padded);
    return paint('dim', padded);
  };

  lines.push(paint('bold', formatRow(['test', ...headers], widths)));
  lines.push(widths.map((width) => '─'.repeat(width)).join('  '));
  matrix.rows.forEach((row, r) => {
    const cells = rows[r]!;
    // The last cell is not padded, so no trailing spaces hide inside a colour sequence.
    const padded = cells.map((value, c) => (c === cells.length - 1 ? value : pad(value, widths[c]!)));
    lines.push(padded.map((value, c) => (c === 0 ? value : paintCell(row.cells[c - 1], value))).join('  '));
  });
  lines.push(formatRow(totals, widths));
  if (matrix.footnotes.length > 0) {
    lines.push('');
    for (const note of matrix.footnotes) lines.push(`[${note.number}] ${note.text}`);
  }
  const caveats = columns.filter((column) => column.caveat !== undefined);
  if (caveats.length > 0) {
    lines.push('');
    for (const column of caveats) lines.push(paint('yellow', `* ${column.label}: ${column.caveat}`));
  }
  const ended = report.backends.flatMap((backend, index) =>
    backend.error === undefined ? [] : [`! ${columns[index]!.label} ended early: ${backend.error}`],
  );
  if (ended.length > 0) {
    lines.push('');
    for (const line of ended) lines.push(paint('red', line));
  }

  if (options.bench !== false) {
    const bench = benchRows(report);
    if (bench.length > 0) {
      const ratios = ratioRows(report).map((row) => [
        `${row.metric} ÷ ${row.baseline.startsWith('floor.') ? 'floor' : 'naive'}`,
        ...row.values.map(formatRatioCell),
      ]);
      const benchTable = [
        ['metric (ms: p50 / mean / p99)', ...headers],
        ...bench.map((row) => [row.metric, ...row.figures.map(formatFigure)]),
        ...ratios,
      ];
      const benchWidths = columnWidths(benchTable);
      lines.push('');
      lines.push(paint('bold', formatRow(benchTable[0]!, benchWidths)));
      lines.push(benchWidths.map((width) => '─'.repeat(width)).join('  '));
      for (const row of benchTable.slice(1)) lines.push(formatRow(row, benchWidths));
      if (ratios.length > 0) lines.push('', paint('dim', LOOPBACK_NOTE));
    }
  }
  return `${lines.join('\n')}\n`;
}

function columnWidths(rows: string[][]): number[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [c, cell] of row.entries()) widths[c] = Math.max(widths[c] ?? 0, displayWidth(cell));
  }
  return widths;
}

function formatRow(cells: string[], widths: number[]): string {
  return cells
    .map((cell, c) => pad(cell, widths[c]!))
    .join('  ')
    .trimEnd();
}

function pad(cell: string, width: number): string {
  return cell + ' '.repeat(Math.max(0, width - displayWidth(cell)));
}

/** Columns a string occupies: one per code point (the glyphs used here are all narrow). */
function displayWidth(value: string): number {
  return [...value].length;
}
