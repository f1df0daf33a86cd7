/**
 * `@lockstep/file/testing`: what compare tools use to exercise file:// beyond the conformance
 * suite — the profile (a temporary directory per run, cleanup by prefix, benchmark floors
 * with plain `node:fs`). Needs `@lockstep/conformance` installed.
 * @packageDocumentation
 */
export { FILE_TEST_TTL_MS, fileProfile } from './profile.js';
