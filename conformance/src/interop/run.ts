/**
 * Running interop scenarios: one at a time with cleanup guaranteed ({@link runInteropScenario},
 * which rethrows, for vitest), or a list of them as report results ({@link runInterop}, for
 * `pnpm compare`), where scenarios sharing an id merge into one result.
 * @module
 */
import type { Coordinator } from '@lockstep/core';
import { describeError, SkipTest } from '../suite/assert.js';
import type { TestResult } from '../suite/types.js';
import type { ConformanceTarget } from '../target.js';
import { uniqueSuffix } from './support.js';
import type { InteropContext, InteropScenario } from './types.js';

/** Default time limit of a scenario. */
export const DEFAULT_INTEROP_TIMEOUT_MS = 60_000;

/** The scratch root of native places when the caller names none. */
export const DEFAULT_INTEROP_SCRATCH = 'lockstep-interop';

/** Options of {@link runInteropScenario} and {@link runInterop}. */
export interface InteropRunOptions {
  /** Root of every native place the scenarios write (`ctx.place`). Default {@link DEFAULT_INTEROP_SCRATCH}. */
  readonly scratch?: string;
}

/** Marks the running scenario as not applicable here, with the reason shown in reports. */
export function skipInterop(reason: string): never {
  throw new SkipTest(reason);
}

/** Whether `error` is a skip ({@link skipInterop}); its reason is the message. */
export function isInteropSkip(error: unknown): error is Error {
  return error instanceof SkipTest;
}

/**
 * Runs one scenario against `target` within its time limit, then closes every client it
 * opened and runs every deferred cleanup, also when it failed. Rethrows the scenario's error
 * (a skip included: test with {@link isInteropSkip}); a failing cleanup fails a passing run.
 */
export async function runInteropScenario(
  scenario: InteropScenario,
  target: ConformanceTarget,
  options: InteropRunOptions = {},
): Promise<void> {
  const cleanups: Array<() => unknown> = [];
  const controller = new AbortController();
  const scratch = options.scratch ?? DEFAULT_INTEROP_SCRATCH;
  const ctx: InteropContext = {
    signal: controller.signal,
    place: (label) => `${scratch}/${label}-${uniqueSuffix()}`,
    defer: (cleanup) => void cleanups.push(cleanup),
    open: async (url) => {
      const coordinator: Coordinator = await target.connect(url);
      cleanups.push(() => coordinator.close());
      return coordinator;
    },
  };
  const limit = scenario.timeoutMs ?? DEFAULT_INTEROP_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  let failure: { error: unknown } | undefined;
  try {
    const run = scenario.run(target, ctx);
    run.catch(() => {});
    await Promise.race([
      run,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new Error(`${scenario.id}: timed out after ${limit} ms`);
          controller.abort(error);
          reject(error);
        }, limit);
      }),
    ]);
  } catch (error) {
    failure = { error };
  } finally {
    clearTimeout(timer);
  }
  const problems: string[] = [];
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      problems.push(describeError(error));
    }
  }
  if (failure !== undefined) throw failure.error;
  if (problems.length > 0) throw new Error(`${scenario.id}: cleanup failed: ${problems.join('; ')}`);
}

/** Progress of {@link runInterop}: one call per scenario. */
export type InteropProgress = (
  scenario: InteropScenario,
  status: TestResult['status'],
  ms: number,
  reason?: string,
) => void;

/**
 * Runs `scenarios` one after another and returns one result per distinct id, in first
 * appearance order: `fail` when any of its scenarios failed (reasons joined), else `skip`
 * when any was skipped (a partly run id is not a pass), else `pass`; `ms` is their sum.
 * Never throws for a failing scenario.
 */
export async function runInterop(
  target: ConformanceTarget,
  scenarios: readonly InteropScenario[],
  onProgress?: InteropProgress,
  options: InteropRunOptions = {},
): Promise<TestResult[]> {
  const byId = new Map<string, { ms: number; fails: string[]; skips: string[] }>();
  for (const scenario of scenarios) {
    const entry = byId.get(scenario.id) ?? { ms: 0, fails: [], skips: [] };
    byId.set(scenario.id, entry);
    const start = performance.now();
    let status: TestResult['status'] = 'pass';
    let reason: string | undefined;
    try {
      await runInteropScenario(scenario, target, options);
    } catch (error) {
      if (isInteropSkip(error)) {
        status = 'skip';
        reason = error.message;
        entry.skips.push(`${scenario.title}: ${reason}`);
      } else {
        status = 'fail';
        reason = describeError(error);
        entry.fails.push(`${scenario.title}: ${reason}`);
      }
    }
    const ms = Math.round(performance.now() - start);
    entry.ms += ms;
    onProgress?.(scenario, status, ms, reason);
  }
  return [...byId].map(([id, { ms, fails, skips }]): TestResult => {
    if (fails.length > 0) return { id, status: 'fail', ms, reason: fails.join(' | ') };
    if (skips.length > 0) return { id, status: 'skip', ms, reason: skips.join(' | ') };
    return { id, status: 'pass', ms };
  });
}
