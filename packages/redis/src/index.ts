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
import { registerAdapter } from '@lockstep/core/driver';
import { connectFromUrl } from './coordinator.js';

export {
  REDIS_CAPABILITIES,
  REDIS_MIN_TTL_MS,
  REDLOCK_CAPABILITIES,
  REDLOCK_ELECTION_REASON,
  REDLOCK_READ_WRITE_REASON,
  REDLOCK_SEMAPHORE_REASON,
} from './capabilities.js';
export { redisCoordinator, redlockCoordinator } from './coordinator.js';
export { counterKey, type LockKeys, lockKeys } from './keys.js';
export {
  DEFAULT_DRIFT_FACTOR,
  DEFAULT_HANDOFF_MS,
  type RedisConnectOptions,
  type RedisCoordinatorOptions,
  type RedlockCoordinatorOptions,
} from './options.js';

registerAdapter({
  schemes: ['redis', 'rediss', 'redlock'],
  packageName: '@lockstep/redis',
  connect: connectFromUrl,
});
