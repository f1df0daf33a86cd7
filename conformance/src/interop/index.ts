/**
 * `@lockstep/conformance/interop`: the interop scenarios of issue 10 (lockstep's native locks
 * against other libraries' and languages' recipes), shared by the adapters' vitest tests and
 * `pnpm compare`. Run one with {@link runInteropScenario}; peer libraries are imported only
 * when a scenario runs.
 * @module
 */
export * from './run.js';
export * from './types.js';
