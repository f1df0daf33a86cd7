/**
 * The shape of `report.json` and the closed vocabularies it uses. Backend names, server
 * sources and test ids are the suite's own lists (`@lockstep/conformance`), never copies.
 * @module
 */
import { BACKEND_NAMES, TARGET_SOURCES, type TargetSource, TEST_IDS } from '@lockstep/conformance';
import type { BackendName } from '@lockstep/core';
import type { Figure } from '../stats.js';

export { BACKEND_NAMES, type BackendName };

/**
 * Where a backend's server came from: `env` (a URL given to the run), `binary` (a local
 * server started for the run), `container`, `emulator` (a stand-in that speaks the API but
 * is not the real server; never to be presented as verified) or `embedded` (memory and file
 * backends, no server).
 */
export const BACKEND_SOURCES = TARGET_SOURCES;
/** One of {@link BACKEND_SOURCES}. */
export type BackendSource = TargetSource;

/** The statuses of a conformance test. A test that does not apply is `skip` with a reason. */
export const TEST_STATUSES = ['pass', 'fail', 'skip'] as const;
/** One of {@link TEST_STATUSES}. */
export type TestStatus = (typeof TEST_STATUSES)[number];

/**
 * The order of test rows: the suite's ids in the suite's order; ids not listed (interop rows)
 * follow in order of appearance.
 */
export const REPORT_TEST_ORDER: readonly string[] = TEST_IDS;

/**
 * The benchmark metrics, in the order reports list them (others follow).
 * `floor.X` and `naive.X` are the baselines `X` is compared with.
 */
export const BENCH_METRICS = [
  'lock.cycle',
  'floor.lock.cycle',
  'lock.handoff',
  'lock.fairness',
  'counter.increment',
  'floor.counter.increment',
  'counter.throughput64',
  'naive.counter.throughput64',
  'semaphore.handoff',
  'semaphore.fairness',
  'rwlock.read.cycle',
  'rwlock.writer-wait',
  'rwlock.read.throughput8',
  'rwlock.write.throughput8',
  'election.resign',
  'election.observe.lag',
  'election.failover',
] as const;
/** One of {@link BENCH_METRICS}. */
export type BenchMetric = (typeof BENCH_METRICS)[number];

/** The outcome of one conformance test on one backend, as `report.json` stores it. */
export interface ReportTestResult {
  /** A test id such as `lock.exclusive` (see {@link REPORT_TEST_ORDER}). */
  readonly id: string;
  readonly status: TestStatus;
  /** How long the test took, ms. */
  readonly ms: number;
  /** Why it failed or was skipped. */
  readonly reason?: string;
}

/** Benchmark figures by metric name (see {@link BENCH_METRICS}). */
export type BenchFigures = Readonly<Record<string, Figure>>;

/** The machine the report was produced on. Extra fields are allowed and kept. */
export interface MachineInfo {
  /** Node.js version, e.g. `v20.11.1`. */
  readonly node: string;
  /** `process.platform`. */
  readonly platform: string;
  /** `process.arch`. */
  readonly arch: string;
  /** Logical CPUs available. */
  readonly cpus: number;
  readonly cpuModel: string;
  /** Total memory in GiB. */
  readonly memGiB: number;
  readonly [extra: string]: unknown;
}

/** A benchmark metric that was not measured, and why (`library` for a peer's metric). */
export interface MissingMetric {
  readonly metric: string;
  readonly library?: string;
  readonly reason: string;
}

/** The 1, 5 and 15 minute load averages at the start and at the end of a backend's benchmarks. */
export interface BenchLoad {
  readonly start: readonly number[];
  readonly end: readonly number[];
}

/** What the run wrote on a backend and whether it was removed afterwards. */
export interface ScratchReport {
  /** Every name the run wrote started with it. */
  readonly prefix: string;
  readonly removed: boolean;
  /** Why it could not be removed. */
  readonly reason?: string;
}

/**
 * Everything measured on one backend. `capabilities` is whatever the coordinator declared,
 * kept opaque here (pass the core `Capabilities` type as `C` to keep it typed).
 */
export interface BackendReport<C extends object = Record<string, unknown>> {
  readonly name: BackendName;
  /** The URL connected to. Passwords are redacted when the report is written. */
  readonly url: string;
  readonly source: BackendSource;
  /** The server's own account of its version (an emulator says it is one). */
  readonly serverVersion?: string;
  readonly capabilities: C;
  readonly tests: readonly ReportTestResult[];
  readonly bench: BenchFigures;
  /** Figures of the libraries users would pick instead, by library, then metric. */
  readonly peers: Readonly<Record<string, BenchFigures>>;
  /** Every benchmark metric that could not be measured, with the reason. */
  readonly missing?: readonly MissingMetric[];
  /** Machine load around the benchmarks (loopback latency, and so every ratio, moves with it). */
  readonly load?: BenchLoad;
  /** The run's data on this backend, and its removal. */
  readonly scratch?: ScratchReport;
  /**
   * Why this backend's run ended early (a crash, an uncaught exception, a lost worker): its
   * rows hold what was measured until then. A backend with an `error` counts as failed.
   */
  readonly error?: string;
}

/** The lockstep that produced a report. */
export interface LockstepInfo {
  /** `@lockstep/core`'s version. */
  readonly version: string;
  /** `git rev-parse HEAD` of the checkout it ran from (with `-dirty` for local changes), else `unknown`. */
  readonly commit: string;
}

/** The whole of `report.json`. */
export interface Report<C extends object = Record<string, unknown>> {
  /** ISO 8601 timestamp. */
  readonly generatedAt: string;
  /** Absent in reports written before it was recorded. */
  readonly lockstep?: LockstepInfo;
  readonly machine: MachineInfo;
  readonly backends: readonly BackendReport<C>[];
}

/** Thrown when a report does not match the schema; `path` points at the offending field. */
export class InvalidReportError extends TypeError {
  /** Stable code, in the style of lockstep's errors. */
  readonly code = 'INVALID_REPORT';
  override readonly name = 'InvalidReportError';
  /** Where in the report, e.g. `backends[2].bench["lock.cycle"].p50`. */
  readonly path: string;

  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.path = path;
  }
}
