/**
 * `@lockstep/consul/testing`: what compare tools use to exercise Consul beyond the
 * conformance suite — the `consul://` profile (a Consul or, where none can be installed, the
 * emulator of @lockstep/testing, always labelled so; server version, cleanup by prefix,
 * benchmark floors), the interop scenarios against transcriptions of `api/lock.go` and
 * `api/semaphore.go`, and the
 * plain HTTP helpers they share. Needs `@lockstep/conformance` installed.
 * @packageDocumentation
 */
export {
  ApiLock,
  type ApiLockOptions,
  getPair,
  LOCK_FLAG_VALUE,
  type Pair,
  SEMAPHORE_FLAG_VALUE,
} from './api-lock.js';
export { ApiSemaphore, type ApiSemaphoreOptions, type ListedPair } from './api-semaphore.js';
export { CONSUL_INTEROP } from './interop.js';
export { CONSUL_EMULATOR_TEST_TTL_MS, CONSUL_TEST_TTL_MS, consulProfile } from './profile.js';
export { agentOf, consulVersion, deleteTree } from './raw.js';
