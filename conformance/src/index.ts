/**
 * @lockstep/conformance — the shared suite every lockstep adapter is held to, its runner,
 * the checkers behind it, the benchmark harness and the `compare` report.
 *
 * - Under vitest: `describeConformance(...)` from `@lockstep/conformance/vitest`.
 * - Anywhere else: `runConformance(target)` gives one result per SPEC test id.
 * @packageDocumentation
 */

export type {
  BackendProfile,
  BenchSubject,
  Contender,
  PeerBench,
  ProvisionedBackend,
} from './backends/profile.js';
export * from './checkers/index.js';
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
export * from './stats.js';
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
  type ConformanceTarget,
  hostList,
  isInProcess,
  isProxyable,
  type ServerControl,
  type TargetSource,
  withHostList,
  withQueryParam,
} from './target.js';
