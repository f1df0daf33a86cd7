/**
 * `@lockstep/conformance/interop`: what interop scenarios (lockstep's native locks against
 * other libraries' and languages' recipes) are made of and run by. The scenarios themselves
 * live in each adapter's `/testing` subpath; the adapters' vitest tests and `pnpm compare`
 * both run them with {@link runInteropScenario} / {@link runInterop}.
 * @module
 */
export { check, checkEqual, describeError, expectRejection } from '../suite/assert.js';
export * from './run.js';
export * from './support.js';
export * from './types.js';
