/**
 * Latency samples, their summary, and the FIGURE objects of `report.json`.
 *
 * Percentiles use the **nearest-rank** method: the p-th percentile of n sorted samples is
 * the sample at 1-based rank `ceil(p/100 × n)`. It always returns a value that was really
 * measured (no interpolation between two samples), which is what a reader of "p99 = 4.1 ms"
 * expects; with fewer than 100 samples p99 is simply the maximum.
 * @module
 */

/**
 * A latency figure in milliseconds: median and 99th percentile (nearest-rank), and the mean
 * cost of one operation (time over operations, so a per-call allocation or GC pause that a
 * p50 hides shows in it). Reports written before the mean existed lack it.
 */
export interface LatencyFigure {
  readonly p50: number;
  readonly p99: number;
  readonly mean?: number;
  readonly unit: 'ms';
}

/** A throughput figure in operations per second. */
export interface RateFigure {
  readonly value: number;
  readonly unit: 'ops/s';
}

/** A dimensionless figure, such as the share of grants that went to a different client. */
export interface RatioFigure {
  readonly value: number;
  readonly unit: 'ratio';
}

/** Any FIGURE of `report.json`: `{ p50, p99, mean, unit: 'ms' }`, `{ value, unit: 'ops/s' }` or `{ value, unit: 'ratio' }`. */
export type Figure = LatencyFigure | RateFigure | RatioFigure;

/** Summary of a set of latency samples, all in milliseconds. */
export interface LatencySummary {
  /** Number of samples. */
  readonly count: number;
  /** Arithmetic mean. */
  readonly mean: number;
  /** Smallest sample. */
  readonly min: number;
  /** Median, nearest-rank. */
  readonly p50: number;
  /** 90th percentile, nearest-rank. */
  readonly p90: number;
  /** 99th percentile, nearest-rank. */
  readonly p99: number;
  /** Largest sample. */
  readonly max: number;
}

/** Thrown when a sample, a percentile or a duration is not a usable number. */
export class InvalidSampleError extends RangeError {
  /** Stable code, in the style of lockstep's errors. */
  readonly code = 'INVALID_SAMPLE';
  override readonly name = 'InvalidSampleError';
}

/**
 * The p-th percentile (0 < p ≤ 100) of samples **already sorted ascending**, by nearest rank.
 * @throws InvalidSampleError when `sorted` is empty or `p` is outside (0, 100].
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new InvalidSampleError('percentile of an empty sample set');
  if (!(p > 0 && p <= 100)) throw new InvalidSampleError(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(rank, 1) - 1]!;
}

/**
 * Summarises latency samples (ms): count, mean, min, p50, p90, p99, max.
 * @throws InvalidSampleError when there are no samples or one is negative or not finite.
 */
export function summarize(samples: Iterable<number>): LatencySummary {
  const sorted = Float64Array.from(samples);
  if (sorted.length === 0) throw new InvalidSampleError('cannot summarise zero samples');
  let sum = 0;
  for (const sample of sorted) {
    assertDuration(sample);
    sum += sample;
  }
  sorted.sort();
  return {
    count: sorted.length,
    mean: sum / sorted.length,
    min: sorted[0]!,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

/**
 * Collects latency samples in milliseconds. Storage grows with the number of samples
 * (8 bytes each): no reservoir, so percentiles are exact for what was recorded.
 */
export class LatencyRecorder {
  #samples: number[] = [];

  /** Number of samples recorded so far. */
  get count(): number {
    return this.#samples.length;
  }

  /**
   * Adds one sample.
   * @throws InvalidSampleError when `ms` is negative or not finite.
   */
  record(ms: number): void {
    assertDuration(ms);
    this.#samples.push(ms);
  }

  /**
   * Runs `operation`, records how long it took with `performance.now()` and returns its
   * result. A rejected operation is recorded too (its latency is real) and rethrown.
   */
  async time<T>(operation: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await operation();
    } finally {
      this.record(performance.now() - start);
    }
  }

  /** A copy of the samples in recording order. */
  samples(): number[] {
    return [...this.#samples];
  }

  /** The summary of everything recorded. @throws InvalidSampleError when empty. */
  summary(): LatencySummary {
    return summarize(this.#samples);
  }

  /**
   * The `{ p50, p99, mean, unit: 'ms' }` figure of everything recorded; `meanMs` replaces the
   * samples' mean when the caller timed whole slices (time over operations).
   * @throws InvalidSampleError when empty.
   */
  figure(meanMs?: number): LatencyFigure {
    return latencyFigure(this.summary(), meanMs);
  }
}

/**
 * Operations per second for `operations` completed in `elapsedMs` milliseconds.
 * @throws InvalidSampleError when `elapsedMs` is not positive or `operations` is negative.
 */
export function opsPerSecond(operations: number, elapsedMs: number): number {
  if (!(Number.isFinite(operations) && operations >= 0)) {
    throw new InvalidSampleError(`operation count must be a finite number ≥ 0, got ${operations}`);
  }
  if (!(Number.isFinite(elapsedMs) && elapsedMs > 0)) {
    throw new InvalidSampleError(`elapsed time must be a finite number > 0 ms, got ${elapsedMs}`);
  }
  return (operations * 1000) / elapsedMs;
}

/**
 * The latency FIGURE of a summary or of raw samples; `meanMs`, when given, is the mean cost
 * per operation measured over whole slices (else the samples' mean). Values are rounded to
 * 0.1 µs so the JSON stays readable; nothing a benchmark on a real network can resolve is lost.
 */
export function latencyFigure(source: LatencySummary | Iterable<number>, meanMs?: number): LatencyFigure {
  const summary = isSummary(source) ? source : summarize(source);
  const mean = meanMs ?? summary.mean;
  assertDuration(mean);
  return { p50: round(summary.p50, 4), p99: round(summary.p99, 4), mean: round(mean, 4), unit: 'ms' };
}

/** The throughput FIGURE `{ value, unit: 'ops/s' }`, rounded to 0.1 ops/s. */
export function rateFigure(opsPerSec: number): RateFigure {
  assertFiniteNonNegative(opsPerSec, 'ops/s');
  return { value: round(opsPerSec, 1), unit: 'ops/s' };
}

/** The throughput FIGURE of `operations` completed in `elapsedMs`. */
export function throughputFigure(operations: number, elapsedMs: number): RateFigure {
  return rateFigure(opsPerSecond(operations, elapsedMs));
}

/** The FIGURE `{ value, unit: 'ratio' }`, rounded to 4 decimals. */
export function ratioFigure(value: number): RatioFigure {
  assertFiniteNonNegative(value, 'ratio');
  return { value: round(value, 4), unit: 'ratio' };
}

/** Whether `value` is a well-formed FIGURE (used when reading reports back). */
export function isFigure(value: unknown): value is Figure {
  if (typeof value !== 'object' || value === null) return false;
  const figure = value as Record<string, unknown>;
  if (figure.unit === 'ms')
    return (
      typeof figure.p50 === 'number' &&
      typeof figure.p99 === 'number' &&
      (figure.mean === undefined || typeof figure.mean === 'number')
    );
  if (figure.unit === 'ops/s' || figure.unit === 'ratio') return typeof figure.value === 'number';
  return false;
}

/**
 * The number a figure is compared by: p50 for latencies, the value otherwise. Ratios of two
 * figures only make sense for the same unit; see {@link compareFigures}.
 */
export function headlineValue(figure: Figure): number {
  return figure.unit === 'ms' ? figure.p50 : figure.value;
}

/**
 * `a / b` by headline value when both figures share a unit, else `undefined`. For latencies
 * lower is better (a ratio above 1 means `a` is slower); for ops/s higher is better.
 */
export function compareFigures(a: Figure, b: Figure): number | undefined {
  if (a.unit !== b.unit) return undefined;
  return ratioOf(headlineValue(a), headlineValue(b));
}

/** `a.mean / b.mean` for two latency figures that both carry a mean, else `undefined`. */
export function compareMeans(a: Figure, b: Figure): number | undefined {
  if (a.unit !== 'ms' || b.unit !== 'ms' || a.mean === undefined || b.mean === undefined) return undefined;
  return ratioOf(a.mean, b.mean);
}

function ratioOf(a: number, b: number): number | undefined {
  return b === 0 ? undefined : a / b;
}

function isSummary(source: LatencySummary | Iterable<number>): source is LatencySummary {
  return (
    typeof (source as LatencySummary).p50 === 'number' && typeof (source as LatencySummary).count === 'number'
  );
}

function assertDuration(ms: number): void {
  if (!(Number.isFinite(ms) && ms >= 0)) {
    throw new InvalidSampleError(`latency sample must be a finite number ≥ 0 ms, got ${ms}`);
  }
}

function assertFiniteNonNegative(value: number, what: string): void {
  if (!(Number.isFinite(value) && value >= 0)) {
    throw new InvalidSampleError(`${what} must be a finite number ≥ 0, got ${value}`);
  }
}

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}
