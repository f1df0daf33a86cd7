/**
 * The shape of `report.json`, exactly as SPEC.md "Comparing backends" defines it, plus the
 * closed vocabularies it uses.
 * @module
 */
import type { Figure } from '../stats.js';
import { TEST_IDS } from '../suite/types.js';

/** The backend names a report may contain, in the order reports list them. */
export const BACKEND_NAMES = [
  'memory',
  'file',
  'redis',
  'redlock',
  'etcd',
  'zookeeper',
  'consul',
  'postgres',
] as const;
/** One of {@link BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/**
 * Where a backend's server came from: `env` (a URL from the environment), `binary` (a
 * local server started for the run), `container`, `emulator` (a stand-in that speaks the
 * API but is not the real server; never to be presented as verified) or `embedded`
 * (memory and file backends, no server).
 */
export const BACKEND_SOURCES = ['env', 'binary', 'container', 'emulator', 'embedded'] as const;
/** One of {@link BACKEND_SOURCES}. */
export type BackendSource = (typeof BACKEND_SOURCES)[number];

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
 * The benchmark metrics of SPEC.md, in the order reports list them (others follow).
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

/**
 * Everything measured on one backend. `capabilities` is whatever the coordinator declared,
 * kept opaque here (pass the core `Capabilities` type as `C` to keep it typed).
 */
export interface BackendReport<C extends object = Record<string, unknown>> {
  readonly name: BackendName;
  /** The URL connected to. Passwords are redacted when the report is written. */
  readonly url: string;
  readonly source: BackendSource;
  readonly capabilities: C;
  readonly tests: readonly ReportTestResult[];
  readonly bench: BenchFigures;
  /** Figures of the libraries users would pick instead, by library, then metric. */
  readonly peers: Readonly<Record<string, BenchFigures>>;
}

/** The whole of `report.json`. */
export interface Report<C extends object = Record<string, unknown>> {
  /** ISO 8601 timestamp. */
  readonly generatedAt: string;
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
