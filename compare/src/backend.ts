/**
 * One backend's whole run, as the worker process does it: load the profile, provision, ask
 * the server its version, run the suite, the interop scenarios and the benchmarks, remove
 * everything the run wrote, stop. Each step's outcome goes into the backend's row, which is
 * handed out after every step so that a crash later loses nothing measured before it.
 * @module
 */
import {
  probeTarget,
  runConformance,
  type SelectOptions,
  TEST_IDS,
  type TestResult,
} from '@lockstep/conformance';
import { describeError, type InteropScenario, runInterop } from '@lockstep/conformance/interop';
import type { BackendProfile, ProvisionedBackend } from '@lockstep/conformance/profile';
import type { Capabilities } from '@lockstep/core';
import type { TimeBox } from './bench/measure.js';
import { runBenchmarks } from './bench/run.js';
import { type CompareBackend, loadProfile } from './profiles.js';
import { loadAverage } from './report/machine.js';
import type { BackendReport, BackendSource, ReportTestResult, ScratchReport } from './report/types.js';

/** What one backend's run is asked to do. */
export interface BackendJob {
  readonly name: CompareBackend;
  /** The progress label, e.g. `[2/5] redis`. */
  readonly step: string;
  /** A server to use instead of provisioning one (`--url`). */
  readonly url?: string;
  /** The run's namespace: every name the run writes starts with it. */
  readonly prefix: string;
  readonly bench: boolean;
  readonly select?: SelectOptions;
  readonly benchTimeBox?: TimeBox;
  /** A module whose `profile` export replaces the backend's own (tests inject profiles so). */
  readonly profileModule?: string;
}

/** A backend's row while (and after) it runs. */
export type Row = BackendReport<Capabilities | Record<string, never>>;

/** What a finished run hands back. */
export interface BackendOutcome {
  readonly report: Row;
  /** Why the backend could not be provisioned at all (for `LOCKSTEP_REQUIRE`). */
  readonly unprovisioned?: string;
}

/** Hooks of {@link runBackend}. */
export interface BackendHooks {
  readonly log: (line: string) => void;
  /** The row so far, after every step. */
  readonly onProgress?: (report: Row) => void;
  /**
   * Told what to undo while the backend is provisioned (remove the run's data, stop servers),
   * and `undefined` once it was undone, so that a crash or a signal can still do it.
   */
  readonly onActive?: (undo: (() => Promise<void>) | undefined) => void;
}

/** Every test `skip` with one reason: how an unavailable backend appears in the report. */
export function allSkipped(reason: string): TestResult[] {
  return TEST_IDS.map((id) => ({ id, status: 'skip' as const, ms: 0, reason }));
}

/** The source to show for a backend that never started: what compare would have used. */
export function intendedSource(name: CompareBackend, url: string | undefined): BackendSource {
  if (url !== undefined) return 'env';
  return name === 'memory' || name === 'file' ? 'embedded' : 'binary';
}

/** The row of a backend before anything is known about it. */
export function emptyRow(job: Pick<BackendJob, 'name' | 'url'>): Row {
  return {
    name: job.name,
    url: job.url ?? '',
    source: intendedSource(job.name, job.url),
    capabilities: {},
    tests: [],
    bench: {},
    peers: {},
  };
}

/** A result as `report.json` keeps it (details went to the progress log). */
function reportResult({ id, status, ms, reason }: TestResult): ReportTestResult {
  return reason === undefined ? { id, status, ms } : { id, status, ms, reason };
}

/**
 * The results of a profile's interop scenarios; a profile whose scenarios cannot even be
 * loaded (a peer library missing) gives one `skip` row saying so.
 */
async function interopResults(
  profile: BackendProfile,
  load: () => Promise<readonly InteropScenario[]>,
  provisioned: ProvisionedBackend,
  job: BackendJob,
  log: (line: string) => void,
): Promise<TestResult[]> {
  let scenarios: readonly InteropScenario[];
  try {
    scenarios = await load();
  } catch (error) {
    const reason = `interop scenarios of ${profile.name} could not be loaded: ${describeError(error)}`;
    log(`skip interop — ${reason}`);
    return [{ id: 'interop', status: 'skip', ms: 0, reason }];
  }
  const only = job.select?.only;
  if (only !== undefined) {
    // `only` names suite ids; interop rows stay in the report, marked as not run.
    const ids = [...new Set(scenarios.map((scenario) => scenario.id))];
    const reason = `not selected (only: ${only.join(', ')})`;
    return ids.map((id) => ({ id, status: 'skip', ms: 0, reason }));
  }
  return runInterop(
    provisioned.target,
    scenarios,
    (scenario, status, ms, reason) => {
      const tail = reason === undefined ? '' : ` — ${reason}`;
      log(`${status.padEnd(4)} ${scenario.id} (${ms} ms) ${scenario.title}${tail}`);
    },
    { scratch: job.prefix },
  );
}

/** Removes what the run wrote; never throws (the outcome goes into the row). */
async function removeScratch(
  profile: BackendProfile,
  url: string,
  prefix: string,
  log: (line: string) => void,
): Promise<ScratchReport> {
  if (profile.cleanup === undefined) return { prefix, removed: true };
  try {
    await profile.cleanup(url, prefix);
    log(`removed everything under ${prefix}`);
    return { prefix, removed: true };
  } catch (error) {
    const reason = describeError(error);
    log(`could not remove everything under ${prefix}: ${reason}`);
    return { prefix, removed: false, reason };
  }
}

/**
 * Runs one backend from start to end. Never throws for the backend's failures: each goes
 * into the row (a backend that cannot be provisioned has every test `skip` with the reason).
 */
export async function runBackend(job: BackendJob, hooks: BackendHooks): Promise<BackendOutcome> {
  const log = (line: string) => hooks.log(`${job.step}: ${line}`);
  let row = emptyRow(job);
  const update = (change: Partial<Row>) => {
    row = { ...row, ...change };
    hooks.onProgress?.(row);
  };
  const unavailable = (reason: string): BackendOutcome => {
    log(`SKIPPED — ${reason}`);
    update({ tests: allSkipped(reason) });
    return { report: row, unprovisioned: reason };
  };

  const loaded = await loadProfile(job.name, job.profileModule);
  if (!loaded.ok) return unavailable(loaded.reason);
  const { profile } = loaded;
  let provisioned: ProvisionedBackend;
  try {
    provisioned = await profile.provision({ url: job.url, prefix: job.prefix, log });
  } catch (error) {
    return unavailable(`could not provision ${job.name}: ${describeError(error)}`);
  }
  const { target } = provisioned;
  const undo = async () => {
    hooks.onActive?.(undefined);
    update({ scratch: await removeScratch(profile, target.url, job.prefix, log) });
    await provisioned.stop().catch((error: unknown) => log(`stopping failed: ${describeError(error)}`));
  };
  hooks.onActive?.(undo);
  try {
    await measure();
  } finally {
    await undo();
  }
  return { report: row };

  async function measure(): Promise<void> {
    update({ url: target.url, source: target.source });
    if (profile.serverVersion !== undefined) {
      const serverVersion = await profile
        .serverVersion(target.url)
        .catch((error: unknown) => `unknown (asking failed: ${describeError(error)})`);
      log(`server: ${serverVersion}`);
      update({ serverVersion });
    }

    let capabilities: Capabilities | undefined;
    try {
      capabilities = (await probeTarget(target)).capabilities;
    } catch (error) {
      const reason = `could not connect to the provisioned ${job.name}: ${describeError(error)}`;
      log(reason);
      update({ tests: TEST_IDS.map((id) => ({ id, status: 'fail' as const, ms: 0, reason })) });
      return;
    }
    update({ capabilities });
    const tests: ReportTestResult[] = [];
    await runConformance(target, {
      ...job.select,
      capabilities,
      onProgress: (progress) => {
        if (progress.type !== 'result') return;
        const { result } = progress;
        const tail = result.reason ? ` — ${result.reason}` : '';
        log(`${result.status.padEnd(4)} ${result.id} (${result.ms} ms)${tail}`);
        for (const line of result.details ?? []) log(`       ${line}`);
        tests.push(reportResult(result));
        update({ tests: [...tests] });
      },
    });
    if (profile.interop !== undefined) {
      const interop = await interopResults(profile, profile.interop, provisioned, job, log);
      update({ tests: [...tests, ...interop.map(reportResult)] });
    }

    if (job.bench) {
      log('benchmarks');
      const start = loadAverage();
      const results = await runBenchmarks(profile, target, capabilities, {
        log,
        timeBox: job.benchTimeBox,
        prefix: job.prefix,
      });
      update({
        bench: results.bench,
        peers: results.peers,
        missing: results.missing,
        load: { start, end: loadAverage() },
      });
    }
  }
}
