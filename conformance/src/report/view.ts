/**
 * What every rendering of a report shows, computed once: columns with their labels
 * (emulator caveat included), the test matrix with footnoted reasons, capability rows,
 * bench rows, baseline ratios and peer comparisons. Markdown, HTML and the terminal only
 * differ in how they draw these.
 * @module
 */
import { compareFigures, type Figure } from '../stats.js';
import { figureOf, redactUrl } from './json.js';
import {
  type BackendName,
  type BackendReport,
  type BackendSource,
  BENCH_METRICS,
  REPORT_TEST_ORDER,
  type Report,
  type TestStatus,
} from './types.js';

/** The real product each backend name stands for, for the emulator caveat. */
const PRODUCT: Record<BackendName, string> = {
  memory: 'memory',
  file: 'file',
  redis: 'Redis',
  redlock: 'Redis',
  etcd: 'etcd',
  zookeeper: 'ZooKeeper',
  consul: 'Consul',
  postgres: 'PostgreSQL',
};

/**
 * The caveat a backend's figures must carry, if any: an emulator-sourced backend is
 * `emulator (not verified against real Consul)` (or the product it stands in for).
 */
export function backendCaveat(backend: Pick<BackendReport<object>, 'name' | 'source'>): string | undefined {
  return backend.source === 'emulator'
    ? `emulator (not verified against real ${PRODUCT[backend.name]})`
    : undefined;
}

/** One backend as a column of the matrix. */
export interface BackendColumn {
  /** Short label, unique in the report: the name, plus the source when a name repeats. */
  readonly label: string;
  /** The caveat, for emulators (see {@link backendCaveat}). */
  readonly caveat: string | undefined;
  /** `label — caveat`, or just the label: what headings show. */
  readonly heading: string;
  readonly name: BackendName;
  readonly source: BackendSource;
  /** The URL with credentials redacted. */
  readonly url: string;
}

/** The columns of a report, one per backend, in report order. */
export function columnsOf(report: Report<object>): BackendColumn[] {
  const counts = new Map<string, number>();
  for (const backend of report.backends) counts.set(backend.name, (counts.get(backend.name) ?? 0) + 1);
  const used = new Map<string, number>();
  return report.backends.map((backend) => {
    let label: string = backend.name;
    if ((counts.get(backend.name) ?? 0) > 1) label = `${backend.name} [${backend.source}]`;
    const seen = (used.get(label) ?? 0) + 1;
    used.set(label, seen);
    if (seen > 1) label = `${label} #${seen}`;
    const caveat = backendCaveat(backend);
    return {
      label,
      caveat,
      heading: caveat === undefined ? label : `${label} — ${caveat}`,
      name: backend.name,
      source: backend.source,
      url: redactUrl(backend.url),
    };
  });
}

/** One cell of the test matrix. `missing`: the backend did not report this test. */
export interface TestCell {
  readonly status: TestStatus | 'missing';
  readonly ms?: number;
  /** Footnote number of its reason, when it has one. */
  readonly note?: number;
}

/** The test-by-backend matrix. */
export interface TestMatrix {
  readonly rows: ReadonlyArray<{ readonly id: string; readonly cells: readonly TestCell[] }>;
  /** Distinct reasons, numbered in reading order (row by row). */
  readonly footnotes: ReadonlyArray<{ readonly number: number; readonly text: string }>;
  /** Per column: counts and total time. */
  readonly totals: ReadonlyArray<{ pass: number; fail: number; skip: number; ms: number }>;
}

/**
 * Builds the test matrix: rows in SPEC order, then any other ids in order of appearance;
 * identical reasons share one footnote.
 */
export function testMatrix(report: Report<object>): TestMatrix {
  const ids = orderedKeys(
    REPORT_TEST_ORDER,
    report.backends.flatMap((backend) => backend.tests.map((test) => test.id)),
  );
  const notes = new Map<string, number>();
  const rows = ids.map((id) => ({
    id,
    cells: report.backends.map((backend): TestCell => {
      const test = backend.tests.find((candidate) => candidate.id === id);
      if (test === undefined) return { status: 'missing' };
      const reason = test.reason?.trim();
      if (reason === undefined || reason === '' || test.status === 'pass')
        return { status: test.status, ms: test.ms };
      let note = notes.get(reason);
      if (note === undefined) {
        note = notes.size + 1;
        notes.set(reason, note);
      }
      return { status: test.status, ms: test.ms, note };
    }),
  }));
  const totals = report.backends.map((backend) => {
    const total = { pass: 0, fail: 0, skip: 0, ms: 0 };
    for (const test of backend.tests) {
      total[test.status]++;
      total.ms += test.ms;
    }
    return total;
  });
  const footnotes = [...notes].map(([text, number]) => ({ number, text }));
  return { rows, footnotes, totals };
}

/** Capabilities flattened to dotted keys (`lock.fencing`), one row per key, one value per column. */
export function capabilityRows(report: Report<object>): Array<{ key: string; values: string[] }> {
  const flattened = report.backends.map((backend) => flatten(backend.capabilities));
  const keys = orderedKeys(
    [],
    flattened.flatMap((entries) => [...entries.keys()]),
  );
  return keys.map((key) => ({ key, values: flattened.map((entries) => entries.get(key) ?? '—') }));
}

function flatten(value: unknown, prefix = '', into = new Map<string, string>()): Map<string, string> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value))
      flatten(inner, prefix === '' ? key : `${prefix}.${key}`, into);
    return into;
  }
  into.set(prefix === '' ? '(value)' : prefix, formatCapability(value));
  return into;
}

/** A capability value as text: `yes`/`no` for booleans, lists comma-separated, bigints in decimal. */
export function formatCapability(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.map(formatCapability).join(', ');
  if (typeof value === 'object')
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}` : v));
  return String(value);
}

/** Bench figures by metric (SPEC order first), one per column (`undefined` when absent). */
export function benchRows(
  report: Report<object>,
): Array<{ metric: string; figures: Array<Figure | undefined> }> {
  const metrics = orderedKeys(
    BENCH_METRICS,
    report.backends.flatMap((backend) => Object.keys(backend.bench)),
  );
  return metrics.map((metric) => ({
    metric,
    figures: report.backends.map((backend) => figureOf(backend.bench, metric)),
  }));
}

/** A lockstep-to-baseline ratio row. */
export interface RatioRow {
  /** The lockstep metric, e.g. `lock.cycle`. */
  readonly metric: string;
  /** The baseline metric, e.g. `floor.lock.cycle`. */
  readonly baseline: string;
  /** `lower` for latencies (a ratio below 1 is faster), `higher` for throughput. */
  readonly better: 'lower' | 'higher';
  /** lockstep ÷ baseline by headline value (p50, or ops/s), per column. */
  readonly values: Array<number | undefined>;
}

/**
 * Ratios of each lockstep metric `X` to its baselines `floor.X` (hand-written raw-client
 * minimum) and `naive.X` (the obvious one-op implementation), per column, where both were
 * measured. Latencies compare p50s; throughputs compare ops/s.
 */
export function ratioRows(report: Report<object>): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const { metric } of benchRows(report)) {
    if (metric.startsWith('floor.') || metric.startsWith('naive.')) continue;
    for (const baseline of [`floor.${metric}`, `naive.${metric}`]) {
      const values = report.backends.map((backend) => {
        const ours = figureOf(backend.bench, metric);
        const theirs = figureOf(backend.bench, baseline);
        return ours && theirs ? compareFigures(ours, theirs) : undefined;
      });
      if (values.every((value) => value === undefined)) continue;
      const unit = report.backends
        .map((backend) => figureOf(backend.bench, metric)?.unit)
        .find((found) => found !== undefined);
      rows.push({ metric, baseline, better: unit === 'ms' ? 'lower' : 'higher', values });
    }
  }
  return rows;
}

/** One peer-library figure next to lockstep's on the same backend. */
export interface PeerRow {
  readonly library: string;
  readonly column: BackendColumn;
  readonly metric: string;
  readonly peer: Figure;
  readonly lockstep: Figure | undefined;
  /** lockstep ÷ peer by headline value, when comparable. */
  readonly ratio: number | undefined;
  readonly better: 'lower' | 'higher';
}

/** Every peer figure, by backend then library then metric, with lockstep's figure and the ratio. */
export function peerRows(report: Report<object>): PeerRow[] {
  const columns = columnsOf(report);
  return report.backends.flatMap((backend, index) =>
    Object.entries(backend.peers).flatMap(([library, figures]) =>
      orderedKeys(BENCH_METRICS, Object.keys(figures)).map((metric): PeerRow => {
        const peer = figures[metric]!;
        const lockstep = figureOf(backend.bench, metric);
        return {
          library,
          column: columns[index]!,
          metric,
          peer,
          lockstep,
          ratio: lockstep ? compareFigures(lockstep, peer) : undefined,
          better: peer.unit === 'ms' ? 'lower' : 'higher',
        };
      }),
    ),
  );
}

/** `known` entries that occur, in `known` order, then the rest in order of first appearance. */
function orderedKeys(known: readonly string[], occurring: readonly string[]): string[] {
  const present = new Set(occurring);
  const ordered = known.filter((key) => present.has(key));
  const seen = new Set(ordered);
  for (const key of occurring) {
    if (seen.has(key)) continue;
    seen.add(key);
    ordered.push(key);
  }
  return ordered;
}

/** A latency in ms with 3 significant digits (at least 2 decimals below 1 ms). */
export function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** A throughput with comma thousands separators; one decimal below 100 ops/s. */
export function formatRate(opsPerSecond: number): string {
  const digits = opsPerSecond >= 100 ? 0 : 1;
  return opsPerSecond.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A ratio with two decimals, e.g. `1.35×`. */
export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}

/** A FIGURE as text: `0.412 / 1.20 ms` (p50 / p99), `12,345 ops/s`, `0.87`. */
export function formatFigure(figure: Figure | undefined): string {
  if (figure === undefined) return '—';
  if (figure.unit === 'ms') return `${formatMs(figure.p50)} / ${formatMs(figure.p99)} ms`;
  if (figure.unit === 'ops/s') return `${formatRate(figure.value)} ops/s`;
  return figure.value.toFixed(2);
}

/** The glyph of a test status: ✓, ✗, `skip`, or `—` when the test was not run. */
export function statusGlyph(status: TestCell['status']): string {
  return status === 'pass' ? '✓' : status === 'fail' ? '✗' : status === 'skip' ? 'skip' : '—';
}
