/**
 * @lockstep/consul — lockstep over Consul: sessions and KV acquire in one transaction, ModifyIndex
 * fencing tokens, waits on blocking queries, CAS counters. Plain `fetch`, no client library.
 *
 * ```ts
 * import { connect } from '@lockstep/core';
 * import '@lockstep/consul'; // registers consul://
 *
 * const coord = await connect('consul://127.0.0.1:8500?token=…');
 * ```
 *
 * Or over your own agent address (and `fetch`): `consulCoordinator({ url: 'http://127.0.0.1:8500' })`.
 * Verified against an emulator of Consul's documented HTTP API (see the README), not yet against a
 * real Consul agent in this repository's CI.
 * @packageDocumentation
 */
import { registerAdapter } from '@lockstep/core/driver';
import { connectFromUrl } from './coordinator.js';

export { CONSUL_CAPABILITIES, consulCapabilities } from './capabilities.js';
export { consulCoordinator } from './coordinator.js';
export type { FetchLike } from './http.js';
export {
  counterKey,
  decodeKeySegment,
  keySegment,
  lockKey,
  NATIVE_LOCK_SUFFIX,
  nativeLockKey,
} from './keys.js';
export { LOCK_FLAG_VALUE, SEMAPHORE_FLAG_VALUE } from './native.js';
export {
  type ConsulConnectOptions,
  type ConsulCoordinatorOptions,
  type ConsulOptions,
  DEFAULT_LOCK_DELAY_MS,
  DEFAULT_SESSION_TTL_MIN_MS,
  MAX_LOCK_DELAY_MS,
  SESSION_TTL_MAX_MS,
} from './options.js';

registerAdapter({
  schemes: ['consul'],
  packageName: '@lockstep/consul',
  connect: connectFromUrl,
});
