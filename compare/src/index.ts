/**
 * @lockstep/compare — `lockstep-compare` (`pnpm compare` in the repository): the conformance
 * suite and the benchmarks on every backend side by side, each backend in a process of its
 * own, and the reports (`report.json`, `report.md`, `report.html`, the terminal matrix).
 *
 * Programmatic use: {@link runCompare} then {@link writeReport}.
 * @packageDocumentation
 */
export { type CompareArgs, parseCompareArgs, USAGE, UsageError } from './args.js';
export { type BackendHooks, type BackendJob, type BackendOutcome, type Row, runBackend } from './backend.js';
export { DEFAULT_TIME_BOX, type TimeBox } from './bench/measure.js';
export { type BenchResults, type Figures, type RunBenchmarksOptions, runBenchmarks } from './bench/run.js';
export { lockstepInfo } from './meta.js';
export { COMPARE_BACKENDS, type CompareBackend, type LoadedProfile, loadProfile } from './profiles.js';
export * from './report/index.js';
export { type CompareOptions, type CompareOutcome, runCompare, runPrefix } from './run.js';
export type { RunningWorker } from './spawn-worker.js';
export * from './stats.js';
