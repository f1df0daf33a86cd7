/**
 * @lockstep/zookeeper — lockstep over Apache ZooKeeper (3.5 or later), with
 * node-zookeeper-client.
 *
 * ```ts
 * import { connect } from '@lockstep/core';
 * import '@lockstep/zookeeper'; // registers zookeeper://
 *
 * const coord = await connect('zookeeper://10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181/apps/billing');
 * await coord.lock('invoice:42').withLock(async (held) => work(held.fencingToken, held.signal));
 * ```
 *
 * Or over your own client: `zookeeperCoordinator(client)`; share a lock with Java services
 * using Curator's `InterProcessMutex` with `coord.lock('reports', { native: '/locks/reports' })`.
 * @packageDocumentation
 */
import { registerAdapter } from '@lockstep/core/driver';
import { connectFromUrl } from './coordinator.js';

export { ZOOKEEPER_CAPABILITIES, ZOOKEEPER_MIN_TTL_MS } from './capabilities.js';
export { zookeeperCoordinator } from './coordinator.js';
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  type ZooKeeperConnectOptions,
  type ZooKeeperCoordinatorOptions,
} from './options.js';
export { counterPath, type LockLayout, lockLayout } from './paths.js';
export { queueOrder, sortingKey } from './queue.js';
export type {
  RawError,
  RawException,
  RawOpResult,
  RawTransaction,
  RawWatcher,
  Reply,
  ZnodeStat,
  ZooKeeperClient,
} from './raw.js';
export { DEFAULT_ZOOKEEPER_PORT, parseZooKeeperUrl, type ZooKeeperTarget } from './url.js';

registerAdapter({
  schemes: ['zookeeper'],
  packageName: '@lockstep/zookeeper',
  connect: connectFromUrl,
});
