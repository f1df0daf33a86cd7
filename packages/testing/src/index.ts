/**
 * @lockstep/testing — real servers for tests: Redis, PostgreSQL, etcd, ZooKeeper and Consul (or,
 * labelled as such, a Consul HTTP API emulator), clusters, process faults and a fault-injecting
 * TCP proxy. Vitest helpers live in `@lockstep/testing/vitest`.
 * @packageDocumentation
 */

export { type BinaryLookup, locateBinaries } from './binaries.js';
export { type FailedConnect, failedConnect } from './connect-failure.js';
export * from './consul-emulator/index.js';
export {
  CONTAINER_PROBE_TIMEOUT_MS,
  type ContainerRuntimeProbe,
  containerRuntimeHints,
  probeContainerRuntime,
} from './containers.js';
export { envVariableFor } from './env-server.js';
export {
  RequiredBackendError,
  ServerControlError,
  ServerStartError,
  ServerUnavailableError,
} from './errors.js';
export { type FaultProxy, faultProxy } from './fault-proxy.js';
export { heapAfterGc } from './heap.js';
export { ZOOKEEPER_TICK_MS } from './kinds/zookeeper.js';
export { freePort } from './ports.js';
export {
  probeConsul,
  probeEtcd,
  probePostgres,
  probeRedis,
  probeZooKeeper,
} from './probes.js';
export { isProcessAlive } from './process-group.js';
export {
  DEBIAN_PACKAGES,
  type EnsureOptions,
  ensureServerBinaries,
  INTEROP_DEBIAN_PACKAGES,
  type ProvisionReport,
} from './provisioning.js';
export { stopAllServers } from './registry.js';
export {
  type BackendAvailability,
  isBackendRequired,
  type Provided,
  requireBackend,
  requiredBackends,
  startClusterOrSkip,
  startServerOrSkip,
} from './require.js';
export {
  defaultSourceProbes,
  type SourceChoice,
  type SourceProbes,
  type SourceSelection,
  selectSource,
} from './sources.js';
export { startCluster, startConsulEmulatorProcess, startServer } from './start.js';
export * from './types.js';
