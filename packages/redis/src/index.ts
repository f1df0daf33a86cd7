/**
 * @lockstep/redis — lockstep over Redis.
 *
 * ```ts
 * import { connect } from '@lockstep/core';
 * import '@lockstep/redis'; // registers redis://, rediss://, redlock://
 *
 * const coord = await connect('redis://127.0.0.1:6379');            // one server, fenced
 * const quorum = await connect('redlock://h1:6379,h2:6379,h3:6379'); // Redlock, no fencing
 * ```
 *
 * Or over your own clients: `redisCoordinator(client)`, `redlockCoordinator([c1, c2, c3])`.
 * @packageDocumentation
 */
import { registerAdapter } from '@lockstep/core';
import { connectFromUrl } from './coordinator.js';

export { REDIS_CAPABILITIES, REDIS_MIN_TTL_MS, REDLOCK_CAPABILITIES } from './capabilities.js';
export {
  type RedisCoordinatorOptions,
  type RedlockCoordinatorOptions,
  redisCoordinator,
  redlockCoordinator,
} from './coordinator.js';
export { counterKey, type LockKeys, lockKeys } from './keys.js';
export type { RedisConnectOptions } from './options.js';
export { DEFAULT_DRIFT_FACTOR } from './redlock.js';
export { DEFAULT_HANDOFF_MS } from './single.js';

registerAdapter({
  schemes: ['redis', 'rediss', 'redlock'],
  packageName: '@lockstep/redis',
  connect: connectFromUrl,
});
