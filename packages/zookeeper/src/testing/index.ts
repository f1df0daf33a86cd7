/**
 * `@lockstep/zookeeper/testing`: what compare tools and this package's tests use to exercise
 * ZooKeeper beyond the conformance suite — the `zookeeper://` profile (provisioning, server
 * version, cleanup by prefix, benchmark floors), the interop scenarios against Apache
 * Curator's `InterProcessMutex`, and the raw client they share. Needs `@lockstep/conformance`
 * installed (and Java with the Curator jars for the interop scenarios, which skip otherwise).
 * @packageDocumentation
 */
export { ZOOKEEPER_INTEROP } from './interop.js';
export { ZOOKEEPER_TEST_TTL_MS, zookeeperProfile } from './profile.js';
export {
  calls,
  chrootOf,
  errorCode,
  rawClient,
  removeIfEmpty,
  removeTree,
  serversOf,
  ZK_NO_NODE,
  zookeeperVersion,
} from './raw.js';
