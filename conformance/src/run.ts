/**
 * Running the suite without a test framework: `runConformance(target)` gives one
 * {@link TestResult} per test id. The vitest entry and the compare runner both build on
 * {@link runConformanceTest}, so a test behaves the same everywhere.
 * @module
 */
import { type Capabilities, InvalidArgumentError } from '@lockstep/core';
import { describeError, SkipTest } from './suite/assert.js';
import { createContext } from './suite/context.js';
import { CONFORMANCE_TESTS } from './suite/index.js';
import { type ConformanceTest, TEST_IDS, type TestResult } from './suite/types.js';
import type { ConformanceTarget } from './target.js';

/** Default per-test time limit. */
export const DEFAULT_TEST_TIMEOUT_MS = 60_000;

/** What {@link probeTarget} learns from one connection. */
export interface TargetProbe {
  /** The backend name the coordinator reports. */
  readonly backend: string;
  readonly capabilities: Capabilities;
}

/**
 * Opens one client to read the declared capabilities, then closes it.
 * @throws whatever `target.connect()` throws (a target that cannot connect cannot be tested).
 */
export async function probeTarget(target: ConformanceTarget): Promise<TargetProbe> {
  const coordinator = await target.connect();
  try {
    return { backend: coordinator.backend, capabilities: coordinator.capabilities };
  } finally {
    await coordinator.close();
  }
}

/**
 * The lease length the tests use: `target.ttlMs`, else the larger of the backend's minimum
 * TTL and 1000 ms, rounded up to its granularity.
 * @throws InvalidArgumentError when `target.ttlMs` is below the declared minimum.
 */
export function leaseTtlFor(target: ConformanceTarget, capabilities: Capabilities): number {
  const { minTtlMs, ttlGranularityMs } = capabilities.lock;
  if (target.ttlMs !== undefined) {
    if (!Number.isInteger(target.ttlMs) || target.ttlMs < minTtlMs) {
      throw new InvalidArgumentError(
        'ttlMs',
        `must be an integer ≥ the backend's minTtlMs (${minTtlMs}), got ${target.ttlMs}`,
      );
    }
    return Math.ceil(target.ttlMs / ttlGranularityMs) * ttlGranularityMs;
  }
  return Math.ceil(Math.max(minTtlMs, 1_000) / ttlGranularityMs) * ttlGranularityMs;
}

/** Options that select tests. */
export interface SelectOptions {
  /** Run only these ids (others are reported `skip` with "not selected"). */
  readonly only?: readonly string[];
  /** Skip these ids with the given reasons (e.g. a known limitation of a deployment). */
  readonly skip?: Readonly<Record<string, string>>;
}

/** Checks that every id named in `only` and `skip` exists. @throws InvalidArgumentError */
export function validateSelection(options: SelectOptions): void {
  const known = new Set<string>(TEST_IDS);
  for (const [what, ids] of [
    ['only', options.only ?? []],
    ['skip', Object.keys(options.skip ?? {})],
  ] as const) {
    for (const id of ids) {
      if (!known.has(id))
        throw new InvalidArgumentError(what, `unknown test id "${id}" (known: ${TEST_IDS.join(', ')})`);
    }
  }
}

/** Why `test` will not run with these options and capabilities, or `undefined` when it runs. */
export function skipReasonFor(
  test: ConformanceTest,
  target: ConformanceTarget,
  capabilities: Capabilities,
  options: SelectOptions = {},
): string | undefined {
  if (options.only && !options.only.includes(test.id))
    return 'not selected (only: ' + options.only.join(', ') + ')';
  const configured = options.skip?.[test.id];
  if (configured !== undefined) return configured;
  return test.requires?.(capabilities, target);
}

/** Inputs of {@link runConformanceTest}. */
export interface RunTestInput {
  readonly test: ConformanceTest;
  readonly target: ConformanceTarget;
  readonly capabilities: Capabilities;
  readonly ttlMs: number;
  /** Overrides the test's own time limit. */
  readonly timeoutMs?: number;
}

/**
 * Runs one test (applicability already decided by the caller) and always cleans up: every
 * client it opened is closed and every deferred cleanup runs, also after a failure or a
 * timeout. A cleanup that fails turns a pass into a fail (close() must work too).
 */
export async function runConformanceTest(input: RunTestInput): Promise<TestResult> {
  const { test } = input;
  const running = createContext({
    target: input.target,
    capabilities: input.capabilities,
    ttlMs: input.ttlMs,
    testId: test.id,
  });
  const limit = input.timeoutMs ?? test.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  const start = performance.now();
  let status: TestResult['status'] = 'pass';
  let reason: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`timed out after ${limit} ms`);
        running.abort(error);
        reject(error);
      }, limit);
    });
    const run = test.run(running.ctx);
    run.catch(() => {});
    await Promise.race([run, timedOut]);
  } catch (error) {
    if (error instanceof SkipTest) {
      status = 'skip';
      reason = error.reason;
    } else {
      status = 'fail';
      reason =
        error instanceof Error && error.name === 'ConformanceFailure' ? error.message : describeError(error);
    }
  } finally {
    clearTimeout(timer);
  }
  const problems = await running.dispose();
  if (problems.length > 0 && status === 'pass') {
    status = 'fail';
    reason = `cleanup: ${problems.join('; ')}`;
  }
  const ms = Math.round(performance.now() - start);
  const details = running.details.length > 0 ? [...running.details] : undefined;
  return {
    id: test.id,
    status,
    ms,
    ...(reason === undefined ? {} : { reason }),
    ...(details ? { details } : {}),
  };
}

/** Progress of {@link runConformance}. */
export type ConformanceProgress =
  | { readonly type: 'start'; readonly id: string; readonly index: number; readonly total: number }
  | { readonly type: 'result'; readonly result: TestResult; readonly index: number; readonly total: number };

/** Options of {@link runConformance}. */
export interface RunConformanceOptions extends SelectOptions {
  /** Called before and after each test. */
  readonly onProgress?: (progress: ConformanceProgress) => void;
  /** Capabilities already probed (else one client is opened to read them). */
  readonly capabilities?: Capabilities;
  /** Per-test time limit override. */
  readonly timeoutMs?: number;
}

/**
 * Runs every test against `target`, one after another, and returns one result per test
 * id, in the order of `TEST_IDS`: `pass`, `fail` (with the reason) or `skip` (with the reason). When the
 * target cannot even be probed, every test is `fail` with that error. Never throws for a
 * failing backend; throws InvalidArgumentError for unknown ids in `only`/`skip`.
 */
export async function runConformance(
  target: ConformanceTarget,
  options: RunConformanceOptions = {},
): Promise<TestResult[]> {
  validateSelection(options);
  const total = CONFORMANCE_TESTS.length;
  let capabilities = options.capabilities;
  let ttlMs = 0;
  let setupError: string | undefined;
  try {
    capabilities ??= (await probeTarget(target)).capabilities;
    ttlMs = leaseTtlFor(target, capabilities);
  } catch (error) {
    setupError = `could not set up the target: ${describeError(error)}`;
  }
  const results: TestResult[] = [];
  for (const [index, test] of CONFORMANCE_TESTS.entries()) {
    options.onProgress?.({ type: 'start', id: test.id, index, total });
    let result: TestResult;
    if (setupError !== undefined || capabilities === undefined) {
      const skipped = options.only && !options.only.includes(test.id);
      result = skipped
        ? { id: test.id, status: 'skip', ms: 0, reason: 'not selected' }
        : { id: test.id, status: 'fail', ms: 0, reason: setupError };
    } else {
      const reason = skipReasonFor(test, target, capabilities, options);
      result =
        reason !== undefined
          ? { id: test.id, status: 'skip', ms: 0, reason }
          : await runConformanceTest({ test, target, capabilities, ttlMs, timeoutMs: options.timeoutMs });
    }
    results.push(result);
    options.onProgress?.({ type: 'result', result, index, total });
  }
  return results;
}
