/**
 * What every rendering of a report shows, computed once: columns with their labels
 * (emulator caveat included), the test matrix with footnoted reasons, capability rows,
 * bench rows, baseline ratios and peer comparisons. Markdown, HTML and the terminal only
 * differ in how they draw these.
 * @module
 */
import { compareFigures, compareMeans, type Figure } from '../stats.js';
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
 * Builds the test matrix: rows in the suite's order, then any other ids in order of appearance;
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

/** Bench figures by metric (known metrics first, in their order), one per column (`undefined` when absent). */
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

/**
 * One ratio of two figures: by headline value (p50 for latencies, ops/s for throughput) and,
 * for latencies that carry one, by mean.
 */
export interface Ratio {
  readonly headline: number;
  readonly mean?: number;
}

/** The {@link Ratio} of `ours` to `theirs`, when they are comparable. */
export function ratioOf(ours: Figure | undefined, theirs: Figure | undefined): Ratio | undefined {
  if (ours === undefined || theirs === undefined) return undefined;
  const headline = compareFigures(ours, theirs);
  if (headline === undefined) return undefined;
  const mean = compareMeans(ours, theirs);
  return mean === undefined ? { headline } : { headline, mean };
}

/** A lockstep-to-baseline ratio row. */
export interface RatioRow {
  /** The lockstep metric, e.g. `lock.cycle`. */
  readonly metric: string;
  /** The baseline metric, e.g. `floor.lock.cycle`. */
  readonly baseline: string;
  /** `lower` for latencies (a ratio below 1 is faster), `higher` for throughput. */
  readonly better: 'lower' | 'higher';
  /** lockstep ÷ baseline, per column. */
  readonly values: Array<Ratio | undefined>;
}

/**
 * Ratios of each lockstep metric `X` to its baselines `floor.X` (hand-written raw-client
 * minimum) and `naive.X` (the obvious one-op implementation), per column, where both were
 * measured. Latencies compare p50s and means; throughputs compare ops/s.
 */
export function ratioRows(report: Report<object>): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const { metric } of benchRows(report)) {
    if (metric.startsWith('floor.') || metric.startsWith('naive.')) continue;
    for (const baseline of [`floor.${metric}`, `naive.${metric}`]) {
      const values = report.backends.map((backend) =>
        ratioOf(figureOf(backend.bench, metric), figureOf(backend.bench, baseline)),
      );
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
  /** lockstep ÷ peer, when comparable. */
  readonly ratio: Ratio | undefined;
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
          ratio: ratioOf(lockstep, peer),
          better: peer.unit === 'ms' ? 'lower' : 'higher',
        };
      }),
    ),
  );
}

/** The one-line result of one backend, for the summary at the top of a report. */
export interface SummaryRow {
  readonly column: BackendColumn;
  /** `20 pass · 2 skip`, plus `· 1 fail`, or why the run ended early. */
  readonly suite: string;
  /** Whether everything passed (no fail, no early end). */
  readonly ok: boolean;
  /** The declared fencing (`monotonic`, `none`), or `—`. */
  readonly fencing: string;
  /** lock.cycle ÷ floor.lock.cycle. */
  readonly cycle: Ratio | undefined;
  /** lock.handoff (p50) and lock.fairness, as text. */
  readonly handoff: string;
  /** Counter support and counter.throughput64, as text. */
  readonly counters: string;
  readonly serverVersion: string | undefined;
}

/** Per backend: suite result, fencing, lock.cycle ratio to its floor, handoff, counters. */
export function summaryRows(report: Report<object>): SummaryRow[] {
  const columns = columnsOf(report);
  const totals = testMatrix(report).totals;
  return report.backends.map((backend, index): SummaryRow => {
    const total = totals[index]!;
    const parts = [`${total.pass} pass`];
    if (total.fail > 0) parts.push(`${total.fail} fail`);
    if (total.skip > 0) parts.push(`${total.skip} skip`);
    if (backend.error !== undefined) parts.push('ended early');
    const capabilities = flatten(backend.capabilities);
    const handoff = figureOf(backend.bench, 'lock.handoff');
    const fairness = figureOf(backend.bench, 'lock.fairness');
    const throughput = figureOf(backend.bench, 'counter.throughput64');
    const supported = capabilities.get('counter.supported');
    const counters =
      supported === undefined
        ? '—'
        : supported === 'yes'
          ? `${capabilities.get('counter.bounds') === 'yes' ? 'yes, bounded' : 'yes'}${throughput ? `, ${formatFigure(throughput)} (64 callers)` : ''}`
          : 'no';
    return {
      column: columns[index]!,
      suite: parts.join(' · '),
      ok: total.fail === 0 && backend.error === undefined,
      fencing: capabilities.get('lock.fencing') ?? '—',
      cycle: ratioOf(figureOf(backend.bench, 'lock.cycle'), figureOf(backend.bench, 'floor.lock.cycle')),
      handoff:
        handoff === undefined
          ? missingReason(backend, 'lock.handoff') === undefined
            ? '—'
            : 'not measured'
          : `${formatFigure(handoff)}${fairness ? `, fairness ${formatFigure(fairness)}` : ''}`,
      counters,
      serverVersion: backend.serverVersion,
    };
  });
}

/** Why `metric` of lockstep (or of `library`) is absent on `backend`, when the report says. */
export function missingReason(
  backend: Pick<BackendReport<object>, 'missing'>,
  metric: string,
  library?: string,
): string | undefined {
  return backend.missing?.find((entry) => entry.metric === metric && entry.library === library)?.reason;
}

/** Every metric that was not measured, by backend, with the reason. */
export function missingRows(
  report: Report<object>,
): Array<{ column: BackendColumn; metric: string; library?: string; reason: string }> {
  const columns = columnsOf(report);
  return report.backends.flatMap((backend, index) =>
    (backend.missing ?? []).map((entry) => ({ column: columns[index]!, ...entry })),
  );
}

/**
 * Why ratios against a fixed per-cycle cost move from run to run on one machine, shown next
 * to them: loopback round trips get faster as the machine gets busier.
 */
export const LOOPBACK_NOTE =
  "This machine's loopback latency changes with its load: on an idle 2-core box a raw Redis lock cycle took " +
  'about 200 µs, on a loaded one about 70 µs (busy cores do not sleep between packets). Every ratio against a ' +
  "fixed per-cycle cost of lockstep's moves with it, so read ratios next to the load averages recorded for each " +
  'backend, and compare runs made under similar load.';

/** `1.35×` for a ratio, `p50 1.35× · mean 1.42×` when it has a mean too. */
export function formatRatioCell(ratio: Ratio | undefined): string {
  if (ratio === undefined) return '—';
  return ratio.mean === undefined
    ? formatRatio(ratio.headline)
    : `p50 ${formatRatio(ratio.headline)} · mean ${formatRatio(ratio.mean)}`;
}

/** `0.52 → 1.31` (1-minute load average at the start and at the end of the benchmarks). */
export function formatLoad(load: BackendReport<object>['load']): string {
  if (load === undefined) return '—';
  return `${load.start[0]?.toFixed(2) ?? '?'} → ${load.end[0]?.toFixed(2) ?? '?'}`;
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

/** A ratio with two decimals, e.g. `1.35×` (two significant digits below 0.1×). */
export function formatRatio(ratio: number): string {
  // Two decimals, but never rounded to nothing: a peer 300× slower is 0.0033×, not 0.00×.
  return ratio > 0 && ratio < 0.1 ? `${Number(ratio.toPrecision(2))}×` : `${ratio.toFixed(2)}×`;
}

/**
 * A FIGURE as text: `0.412 / 0.450 / 1.20 ms` (p50 / mean / p99; `0.412 / 1.20 ms` for a
 * figure without a mean), `12,345 ops/s`, `0.87`.
 */
export function formatFigure(figure: Figure | undefined): string {
  if (figure === undefined) return '—';
  if (figure.unit === 'ms')
    return figure.mean === undefined
      ? `${formatMs(figure.p50)} / ${formatMs(figure.p99)} ms`
      : `${formatMs(figure.p50)} / ${formatMs(figure.mean)} / ${formatMs(figure.p99)} ms`;
  if (figure.unit === 'ops/s') return `${formatRate(figure.value)} ops/s`;
  return figure.value.toFixed(2);
}

/** The glyph of a test status: ✓, ✗, `skip`, or `—` when the test was not run. */
export function statusGlyph(status: TestCell['status']): string {
  return status === 'pass' ? '✓' : status === 'fail' ? '✗' : status === 'skip' ? 'skip' : '—';
}
