/**
 * `@lockstep/conformance/vitest`: the suite as vitest tests, for an adapter's own test file.
 *
 * ```ts
 * import { connect } from '@lockstep/core';
 * import { describeConformance } from '@lockstep/conformance/vitest';
 * import '@lockstep/redis';
 *
 * describeConformance({
 *   name: 'redis',
 *   target: async () => {
 *     server = await startServer('redis');
 *     return { name: 'redis', source: server.source, url: server.url, adapterModule: '@lockstep/redis',
 *              connect: (url = server.url) => connect(url) };
 *   },
 *   teardown: () => server.stop(),
 * });
 * ```
 *
 * Kept apart from the package's main entry so that the compare runner and other
 * non-vitest users can load the suite without vitest installed.
 * @module
 */

import type { Capabilities } from '@lockstep/core';
import {
  type ServerKind,
  type ServerSource,
  type StartServerOptions,
  startClusterOrSkip,
  startServerOrSkip,
} from '@lockstep/testing';
import { afterAll, beforeAll, describe, it, type TestContext } from 'vitest';
import { type InteropRunOptions, isInteropSkip, runInteropScenario } from './interop/run.js';
import type { InteropScenario } from './interop/types.js';
import { clusterTarget, serverTarget, type TargetShape } from './profile/server.js';
import {
  DEFAULT_TEST_TIMEOUT_MS,
  leaseTtlFor,
  probeTarget,
  runConformanceTest,
  type SelectOptions,
  skipReasonFor,
  validateSelection,
} from './run.js';
import { SkipTest } from './suite/assert.js';
import { CONFORMANCE_TESTS } from './suite/index.js';
import type { ConformanceTarget } from './target.js';

/** Options of {@link describeConformance}. */
export interface DescribeConformanceOptions extends SelectOptions {
  /** Name of the vitest `describe` block. Default `lockstep conformance`. */
  readonly name?: string;
  /**
   * Builds the target once, in `beforeAll` (start servers here). Throwing from
   * {@link skipConformance} skips every test with that reason (e.g. no server available);
   * any other error fails every test with it.
   */
  readonly target: () => Promise<ConformanceTarget> | ConformanceTarget;
  /** Runs once in `afterAll`, also after failures (stop servers here). */
  readonly teardown?: () => Promise<void> | void;
  /** Per-test time limit override (ms); cleanup gets 30 s on top. */
  readonly timeoutMs?: number;
  /** Time allowed for `target()` (ms). Default 180 000. */
  readonly setupTimeoutMs?: number;
}

type Prepared =
  | {
      readonly kind: 'ready';
      readonly target: ConformanceTarget;
      readonly capabilities: Capabilities;
      readonly ttlMs: number;
    }
  | { readonly kind: 'skip'; readonly reason: string }
  | { readonly kind: 'error'; readonly error: unknown };

/**
 * Registers one vitest test per test id (named `<id>: <what it proves>`, so
 * `vitest -t lock.exclusive` selects one), run one after another against the target. Tests
 * that do not apply are skipped with their reason visible in the report; a failing test's
 * error says what was expected and what was measured.
 * @throws InvalidArgumentError at collection time for unknown ids in `only` or `skip`.
 */
export function describeConformance(options: DescribeConformanceOptions): void {
  validateSelection(options);
  describe(options.name ?? 'lockstep conformance', () => {
    let prepared: Prepared = { kind: 'error', error: new Error('the conformance target was not prepared') };

    beforeAll(async () => {
      try {
        const target = await options.target();
        const { capabilities } = await probeTarget(target);
        prepared = { kind: 'ready', target, capabilities, ttlMs: leaseTtlFor(target, capabilities) };
      } catch (error) {
        prepared =
          error instanceof SkipTest ? { kind: 'skip', reason: error.reason } : { kind: 'error', error };
      }
    }, options.setupTimeoutMs ?? 180_000);

    afterAll(async () => {
      await options.teardown?.();
    }, 120_000);

    for (const test of CONFORMANCE_TESTS) {
      const limit = options.timeoutMs ?? test.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
      it(
        `${test.id}: ${test.title}`,
        async (context) => {
          const state = prepared;
          if (state.kind === 'skip') return context.skip(state.reason);
          if (state.kind === 'error') throw state.error;
          const reason = skipReasonFor(test, state.target, state.capabilities, options);
          if (reason !== undefined) return context.skip(reason);
          const result = await runConformanceTest({
            test,
            target: state.target,
            capabilities: state.capabilities,
            ttlMs: state.ttlMs,
            timeoutMs: options.timeoutMs,
          });
          if (result.status === 'skip') return context.skip(result.reason);
          if (result.status === 'fail') {
            const details = result.details?.length
              ? `\n  measured: ${result.details.join('\n  measured: ')}`
              : '';
            throw new Error(`${test.id}: ${result.reason}${details}`);
          }
        },
        limit + 30_000,
      );
    }
  });
}

/**
 * Call (throw) from a `target` factory to skip every conformance test with `reason`, e.g.
 * when no server can be provided on this machine.
 */
export function skipConformance(reason: string): never {
  throw new SkipTest(reason);
}

export type { ConformanceTarget, ServerControl, TargetSource } from './target.js';

/**
 * Runs one interop scenario inside a vitest test (`it(scenario.title, (context) =>
 * runInteropTest(context, scenario, target))`): a scenario that cannot run here (no Java, no
 * `etcdctl` …) marks the test skipped with its reason; any other error fails it. Every client
 * the scenario opened is closed and every cleanup run before this returns.
 */
export async function runInteropTest(
  context: TestContext,
  scenario: InteropScenario,
  target: ConformanceTarget,
  options?: InteropRunOptions,
): Promise<void> {
  try {
    await runInteropScenario(scenario, target, options);
  } catch (error) {
    if (isInteropSkip(error)) context.skip(error.message);
    throw error;
  }
}

/** Options of {@link describeServerConformance}. */
export interface DescribeServerConformanceOptions extends SelectOptions {
  /** Name of the vitest `describe` block. */
  readonly name: string;
  /** The server kind @lockstep/testing starts (`LOCKSTEP_TEST_<KIND>_URL` wins, as always). */
  readonly kind: ServerKind;
  /** More than 1 starts a cluster. */
  readonly nodes?: number;
  /** Passed to `startServer` / `startCluster`. */
  readonly start?: StartServerOptions;
  /** The target's name, adapter, lease and URL options; may depend on where the server came from. */
  readonly shape: TargetShape | ((source: ServerSource) => TargetShape);
}

/**
 * {@link describeConformance} over a server (or cluster) from @lockstep/testing, started in
 * `beforeAll` and stopped in `afterAll`; every test is skipped with the reason when none can
 * be provided (and fails instead when `LOCKSTEP_REQUIRE` names the kind).
 */
export function describeServerConformance(options: DescribeServerConformanceOptions): void {
  const { name, kind, nodes = 1, start, shape, ...select } = options;
  const shapeFor = (source: ServerSource) => (typeof shape === 'function' ? shape(source) : shape);
  let stop: (() => Promise<void>) | undefined;
  describeConformance({
    ...select,
    name,
    target: async () => {
      if (nodes === 1) {
        const provided = await startServerOrSkip(kind, start);
        if (!provided.handle) return skipConformance(provided.skipReason);
        const server = provided.handle;
        stop = () => server.stop();
        return serverTarget(server, shapeFor(server.source));
      }
      const provided = await startClusterOrSkip(kind, nodes, start);
      if (!provided.handle) return skipConformance(provided.skipReason);
      const cluster = provided.handle;
      stop = () => cluster.stop();
      return clusterTarget(cluster, shapeFor(cluster.nodes[0]?.source ?? 'binary'));
    },
    teardown: () => stop?.(),
  });
}
