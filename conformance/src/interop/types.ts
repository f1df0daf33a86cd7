/**
 * Interop scenarios: lockstep's native locks contending with the recipes other languages and
 * libraries use on the same backend. One definition (in the adapter's `/testing` subpath)
 * serves both the adapter's vitest test and `pnpm compare`, where each appears as
 * `interop.<peer>` under its backend.
 * @module
 */
import type { Coordinator } from '@lockstep/core';
import type { ConformanceTarget } from '../target.js';

/** What a running scenario gets besides its target. */
export interface InteropContext {
  /** A new client of the target (`target.connect(url)`), closed when the scenario ends. */
  open(url?: string): Promise<Coordinator>;
  /** Runs `cleanup` when the scenario ends, also after a failure or a timeout (last first). */
  defer(cleanup: () => unknown): void;
  /** Aborts when the scenario times out: long waits should stop on it. */
  readonly signal: AbortSignal;
  /**
   * `<root>/<label>-<random>`: a native location (key, path, key prefix) no other scenario
   * or run uses, under the run's scratch root, so that whoever ran the scenario can remove
   * everything it wrote by that root. Scenarios write nothing outside such places.
   */
  place(label: string): string;
}

/**
 * One interop scenario: throws (any error) to fail, throws `SkipTest` (via `skipInterop`) when
 * the peer cannot run on this machine (no Java, no `etcdctl` …), returns to pass.
 */
export interface InteropScenario {
  /** The report id, `interop.<peer>` (several scenarios may share one id: one result each). */
  readonly id: `interop.${string}`;
  /** What it proves, in a sentence (vitest test names use it). */
  readonly title: string;
  /** Time limit, ms (default 60 s). */
  readonly timeoutMs?: number;
  run(target: ConformanceTarget, ctx: InteropContext): Promise<void>;
}
