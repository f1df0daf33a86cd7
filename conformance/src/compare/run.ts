/**
 * `compare`: for each backend, load its profile, provision it, run the suite and the
 * benchmarks, stop it — then build the report. A backend that cannot be provisioned stays in
 * the report with every test `skip` and the reason, so nobody mistakes absence for success.
 * @module
 */
import type { Capabilities } from '@lockstep/core';
import { type CompareBackend, type LoadedProfile, loadProfile } from '../backends/load.js';
import type { ProvisionedBackend } from '../backends/profile.js';
import type { TimeBox } from '../bench/measure.js';
import { runBenchmarks } from '../bench/run.js';
import { runInterop } from '../interop/run.js';
import type { InteropScenario } from '../interop/types.js';
import { describeMachine } from '../report/machine.js';
import type { BackendReport, BackendSource, Report } from '../report/types.js';
import { probeTarget, runConformance, type SelectOptions } from '../run.js';
import { describeError } from '../suite/assert.js';
import { TEST_IDS, type TestResult } from '../suite/types.js';
import type { ConformanceTarget } from '../target.js';

/** Options of {@link runCompare}. */
export interface CompareOptions {
  readonly backends: readonly CompareBackend[];
  readonly urls?: Readonly<Partial<Record<CompareBackend, string>>>;
  readonly bench?: boolean;
  /** Progress lines (the CLI writes them to stderr). */
  readonly log?: (line: string) => void;
  /** Benchmark time box per metric. */
  readonly benchTimeBox?: TimeBox;
  /**
   * Told about each provisioned backend's `stop` while it runs (and `undefined` once it was
   * stopped), so a CLI interrupted by a signal can still stop servers and remove temp dirs.
   */
  readonly onActive?: (stop: (() => Promise<void>) | undefined) => void;
  /** Which tests to run (default: all). */
  readonly select?: SelectOptions;
  /** Where profiles come from (default: `backends/<name>`); tests inject their own. */
  readonly load?: (name: CompareBackend) => Promise<LoadedProfile>;
}

/** The report plus what the exit code depends on. */
export interface CompareOutcome {
  readonly report: Report<Capabilities | Record<string, never>>;
  /** Backends reported as skipped because no profile or provisioning was possible, with why. */
  readonly unprovisioned: ReadonlyMap<CompareBackend, string>;
  /** `backend test-id: reason` for every failed test. */
  readonly failures: readonly string[];
  /** Benchmark metrics that could not be measured. */
  readonly benchNotes: readonly string[];
}

/** Every test `skip` with one reason: how an unavailable backend appears in the report. */
function allSkipped(reason: string): TestResult[] {
  return TEST_IDS.map((id) => ({ id, status: 'skip' as const, ms: 0, reason }));
}

/**
 * The results of a profile's interop scenarios; a profile whose scenarios cannot even be
 * loaded (a peer library missing) gives one `skip` row saying so.
 */
async function interopResults(
  load: () => Promise<readonly InteropScenario[]>,
  target: ConformanceTarget,
  only: readonly string[] | undefined,
  log: (line: string) => void,
): Promise<TestResult[]> {
  let scenarios: readonly InteropScenario[];
  try {
    scenarios = await load();
  } catch (error) {
    const reason = `interop scenarios could not be loaded: ${describeError(error)}`;
    log(`skip interop — ${reason}`);
    return [{ id: 'interop', status: 'skip', ms: 0, reason }];
  }
  if (only !== undefined) {
    // `--only` names suite ids; interop rows stay in the report, marked as not run.
    const ids = [...new Set(scenarios.map((scenario) => scenario.id))];
    return ids.map((id) => ({
      id,
      status: 'skip',
      ms: 0,
      reason: `not selected (only: ${only.join(', ')})`,
    }));
  }
  return runInterop(target, scenarios, (scenario, status, ms, reason) => {
    const tail = reason === undefined ? '' : ` — ${reason}`;
    log(`${status.padEnd(4)} ${scenario.id} (${ms} ms) ${scenario.title}${tail}`);
  });
}

/** The source to show for a backend that never started: what compare would have used. */
function intendedSource(name: CompareBackend, url: string | undefined): BackendSource {
  if (url !== undefined) return 'env';
  return name === 'memory' || name === 'file' ? 'embedded' : 'binary';
}

/** Runs the comparison. Never throws for a backend's failure; each is reported. */
export async function runCompare(options: CompareOptions): Promise<CompareOutcome> {
  const log = options.log ?? (() => {});
  const backends: BackendReport<Capabilities | Record<string, never>>[] = [];
  const unprovisioned = new Map<CompareBackend, string>();
  const failures: string[] = [];
  const benchNotes: string[] = [];
  const total = options.backends.length;

  for (const [index, name] of options.backends.entries()) {
    const step = `[${index + 1}/${total}] ${name}`;
    const url = options.urls?.[name];
    const skipBackend = (reason: string) => {
      log(`${step}: SKIPPED — ${reason}`);
      unprovisioned.set(name, reason);
      backends.push({
        name,
        url: url ?? '',
        source: intendedSource(name, url),
        capabilities: {},
        tests: allSkipped(reason),
        bench: {},
        peers: {},
      });
    };

    const loaded = await (options.load ?? loadProfile)(name);
    if (!loaded.ok) {
      skipBackend(loaded.reason);
      continue;
    }
    const profile = loaded.profile;
    let provisioned: ProvisionedBackend;
    try {
      provisioned = await profile.provision({ url, log: (line) => log(`${step}: ${line}`) });
    } catch (error) {
      skipBackend(`could not provision ${name}: ${describeError(error)}`);
      continue;
    }

    options.onActive?.(() => provisioned.stop());
    try {
      const { target } = provisioned;
      let capabilities: Capabilities | undefined;
      let tests: TestResult[];
      try {
        capabilities = (await probeTarget(target)).capabilities;
        tests = await runConformance(target, {
          ...options.select,
          capabilities,
          onProgress: (progress) => {
            if (progress.type !== 'result') return;
            const { result } = progress;
            const tail = result.reason ? ` — ${result.reason}` : '';
            log(`${step}: ${result.status.padEnd(4)} ${result.id} (${result.ms} ms)${tail}`);
            for (const line of result.details ?? []) log(`${step}:        ${line}`);
          },
        });
      } catch (error) {
        const reason = `could not connect to the provisioned ${name}: ${describeError(error)}`;
        log(`${step}: ${reason}`);
        tests = TEST_IDS.map((id) => ({ id, status: 'fail' as const, ms: 0, reason }));
      }
      if (profile.interop !== undefined && capabilities !== undefined)
        tests = [
          ...tests,
          ...(await interopResults(profile.interop, target, options.select?.only, (line) =>
            log(`${step}: ${line}`),
          )),
        ];
      for (const test of tests)
        if (test.status === 'fail') failures.push(`${name} ${test.id}: ${test.reason}`);

      let bench = {};
      let peers = {};
      if (options.bench !== false && capabilities !== undefined) {
        log(`${step}: benchmarks`);
        const results = await runBenchmarks(profile, target, capabilities, {
          log: (line) => log(`${step}: ${line}`),
          timeBox: options.benchTimeBox,
        });
        bench = results.bench;
        peers = results.peers;
        benchNotes.push(...results.notes.map((note) => `${name}: ${note}`));
      }
      backends.push({
        name,
        url: target.url,
        source: target.source,
        capabilities: capabilities ?? {},
        // The report keeps SPEC's fields; details went to the progress log.
        tests: tests.map(({ id, status, ms, reason }) =>
          reason === undefined ? { id, status, ms } : { id, status, ms, reason },
        ),
        bench,
        peers,
      });
    } finally {
      await provisioned
        .stop()
        .catch((error: unknown) => log(`${step}: stopping failed: ${describeError(error)}`));
    }
  }

  return {
    report: { generatedAt: new Date().toISOString(), machine: describeMachine(), backends },
    unprovisioned,
    failures,
    benchNotes,
  };
}
