/**
 * `@lockstep/redis/testing`: what compare tools and this package's tests use to exercise
 * Redis beyond the conformance suite — the `redis://` and `redlock://` profiles (provisioning,
 * server version, cleanup by prefix, benchmark floors and peer libraries), the interop
 * scenarios against node-redlock and redis-semaphore, and the raw client they share.
 *
 * Needs `@lockstep/conformance` (and, for the peers and interop scenarios, `redlock4`
 * = redlock@4.2.0, `redlock5` = redlock@5.0.0-beta.2 and `redis-semaphore`) installed.
 * @packageDocumentation
 */
export {
  REDIS_INTEROP,
  REDIS_PEERS,
  type RedisPeer,
  redisPeerScenarios,
  redlockQuorumScenario,
} from './interop.js';
export { cleanupInstances, REDIS_TEST_TTL_MS, redisProfile } from './profile.js';
export { deleteByPrefix, rawClient, redisVersion, scenarioClient, withKeyspaceEvents } from './raw.js';
export { instanceUrls, redlockProfile } from './redlock-profile.js';
export { REDIS_SEMAPHORE_INTEROP } from './semaphore-interop.js';
