/**
 * @lockstep/conformance — the shared suite every lockstep adapter is held to, its runner and
 * the checkers behind it.
 *
 * - Under vitest: `describeConformance(...)` from `@lockstep/conformance/vitest`.
 * - Anywhere else: `runConformance(target)` gives one result per test id.
 * - Interop scenarios: `@lockstep/conformance/interop`; what a backend supplies to compare
 *   tools: `@lockstep/conformance/profile`.
 * @packageDocumentation
 */

export * from './checkers/index.js';
export { scriptCommand } from './child/command.js';
export type { ChildCommand, ChildEvent, ChildOptions, WaitScenario } from './child/protocol.js';
export { type ChildClient, spawnChild } from './child/spawn.js';
export {
  type ConformanceProgress,
  DEFAULT_TEST_TIMEOUT_MS,
  leaseTtlFor,
  probeTarget,
  type RunConformanceOptions,
  type RunTestInput,
  runConformance,
  runConformanceTest,
  type SelectOptions,
  skipReasonFor,
  type TargetProbe,
  validateSelection,
} from './run.js';
export { ConformanceFailure } from './suite/assert.js';
export { CONFORMANCE_TESTS } from './suite/index.js';
export {
  type ConformanceTest,
  TEST_IDS,
  type TestContext,
  type TestId,
  type TestResult,
} from './suite/types.js';
export {
  BACKEND_NAMES,
  type ConformanceTarget,
  type HostPort,
  hostList,
  isInProcess,
  isProxyable,
  type ServerControl,
  schemeOf,
  TARGET_SOURCES,
  type TargetSource,
  withHostList,
  withQueryParam,
} from './target.js';
