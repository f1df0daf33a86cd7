/**
 * `compare`: each backend runs in a worker process of its own (provision, suite, interop,
 * benchmarks, removal of the run's data, stop), one after another; this process only collects
 * the rows and builds the report. A worker that crashes costs only the rest of its own
 * backend's run: its row keeps what was measured and says why it ended, and the report is
 * always complete.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { SelectOptions } from '@lockstep/conformance';
import { describeError } from '@lockstep/conformance/interop';
import type { Capabilities } from '@lockstep/core';
import type { BackendJob, Row } from './backend.js';
import type { TimeBox } from './bench/measure.js';
import { lockstepInfo } from './meta.js';
import { type CompareBackend, loadProfile } from './profiles.js';
import { describeMachine } from './report/machine.js';
import type { MissingMetric, Report } from './report/types.js';
import { type RunningWorker, startWorker } from './spawn-worker.js';

/** Options of {@link runCompare}. */
export interface CompareOptions {
  readonly backends: readonly CompareBackend[];
  readonly urls?: Readonly<Partial<Record<CompareBackend, string>>>;
  readonly bench?: boolean;
  /** Progress lines of this process (workers write theirs to stderr themselves). */
  readonly log?: (line: string) => void;
  /** Benchmark time box per metric. */
  readonly benchTimeBox?: TimeBox;
  /** Which tests to run (default: all). */
  readonly select?: SelectOptions;
  /** Per backend, a module whose `profile` export replaces the backend's own (for tests). */
  readonly profileModules?: Readonly<Partial<Record<CompareBackend, string>>>;
  /** The run id in the prefix `lockstep-compare/<run id>` (default: random). */
  readonly runId?: string;
  /**
   * Told about the running worker (and `undefined` between workers), so a CLI interrupted by
   * a signal can ask it to remove the run's data and stop its servers.
   */
  readonly onActive?: (worker: RunningWorker | undefined) => void;
}

/** The report plus what the exit code depends on. */
export interface CompareOutcome {
  readonly report: Report<Capabilities | Record<string, never>>;
  /** Backends reported as skipped because no profile or provisioning was possible, with why. */
  readonly unprovisioned: ReadonlyMap<CompareBackend, string>;
  /** `backend test-id: reason` for every failed test, and `backend: reason` for every run that ended early. */
  readonly failures: readonly string[];
  /** Benchmark metrics that could not be measured, as `backend [library] metric: reason`. */
  readonly missing: readonly string[];
}

/** The namespace of one compare run: every name it writes, on every backend, starts with it. */
export function runPrefix(runId: string): string {
  return `lockstep-compare/${runId}`;
}

function describeMissing(name: string, missing: MissingMetric): string {
  return `${name}${missing.library === undefined ? '' : ` ${missing.library}`} ${missing.metric}: ${missing.reason}`;
}

/**
 * After a worker died without removing the run's data (killed, out of memory), removes it
 * from here — only for a server given by URL: one the worker started died with it.
 */
async function removeLeftovers(job: BackendJob, row: Row, log: (line: string) => void): Promise<Row> {
  if (job.url === undefined || row.scratch?.removed === true || row.url === '') return row;
  const loaded = await loadProfile(job.name, job.profileModule);
  if (!loaded.ok || loaded.profile.cleanup === undefined) return row;
  try {
    await loaded.profile.cleanup(row.url, job.prefix);
    log(`${job.step}: removed everything under ${job.prefix} after the worker ended`);
    return { ...row, scratch: { prefix: job.prefix, removed: true } };
  } catch (error) {
    return { ...row, scratch: { prefix: job.prefix, removed: false, reason: describeError(error) } };
  }
}

/** Runs the comparison. Never throws for a backend's failure, crash included; each is reported. */
export async function runCompare(options: CompareOptions): Promise<CompareOutcome> {
  const log = options.log ?? (() => {});
  const prefix = runPrefix(options.runId ?? randomBytes(4).toString('hex'));
  const backends: Row[] = [];
  const unprovisioned = new Map<CompareBackend, string>();
  const failures: string[] = [];
  const missing: string[] = [];
  const total = options.backends.length;
  log(`compare: every name this run writes starts with ${prefix}; all of it is removed afterwards`);

  for (const [index, name] of options.backends.entries()) {
    const job: BackendJob = {
      name,
      step: `[${index + 1}/${total}] ${name}`,
      url: options.urls?.[name],
      prefix,
      bench: options.bench !== false,
      select: options.select,
      benchTimeBox: options.benchTimeBox,
      profileModule: options.profileModules?.[name],
    };
    const worker = startWorker(job);
    options.onActive?.(worker);
    const outcome = await worker.outcome;
    options.onActive?.(undefined);
    let row = outcome.report;
    if (outcome.crashed) {
      log(`${job.step}: ${row.error}`);
      row = await removeLeftovers(job, row, log);
      failures.push(`${name}: ${row.error}`);
    }
    if (outcome.unprovisioned !== undefined) unprovisioned.set(name, outcome.unprovisioned);
    for (const test of row.tests) {
      // Tests a crash kept from running are covered by the crash's own line.
      if (test.status === 'fail' && !(row.error !== undefined && test.reason?.startsWith('not run: ')))
        failures.push(`${name} ${test.id}: ${test.reason}`);
    }
    if (row.scratch?.removed === false)
      failures.push(`${name}: data under ${prefix} left behind: ${row.scratch.reason}`);
    for (const entry of row.missing ?? []) missing.push(describeMissing(name, entry));
    backends.push(row);
  }

  return {
    report: {
      generatedAt: new Date().toISOString(),
      lockstep: lockstepInfo(),
      machine: describeMachine(),
      backends,
    },
    unprovisioned,
    failures,
    missing,
  };
}
