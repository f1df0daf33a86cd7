/**
 * @lockstep/etcd — lockstep over etcd v3 (3.4 or later).
 *
 * ```ts
 * import { connect } from '@lockstep/core';
 * import '@lockstep/etcd'; // registers etcd://
 *
 * const coord = await connect('etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379');
 * await coord.lock('invoice:42').withLock(async (held) => work(held.fencingToken, held.signal));
 * ```
 *
 * Or over your own client: `etcdCoordinator(new Etcd3({ hosts }))`.
 * @packageDocumentation
 */
import { registerAdapter } from '@lockstep/core/driver';
import { connectFromUrl } from './coordinator.js';

export { ETCD_CAPABILITIES, ETCD_MIN_TTL_MS, ETCD_TTL_GRANULARITY_MS } from './capabilities.js';
export { etcdCoordinator, type LockOwnership, lockOwnership } from './coordinator.js';
export { counterKey, lockQueue, memberKey, type QueueLayout } from './keys.js';
export type { EtcdConnectOptions, EtcdCoordinatorOptions } from './options.js';
export { DEFAULT_ETCD_PORT, type EtcdTarget, parseEtcdUrl } from './url.js';

registerAdapter({
  schemes: ['etcd'],
  packageName: '@lockstep/etcd',
  connect: connectFromUrl,
});
