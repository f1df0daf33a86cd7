/**
 * `@lockstep/etcd/testing`: what compare tools and this package's tests use to exercise etcd
 * beyond the conformance suite — the `etcd://` profile (provisioning, server version, cleanup
 * by prefix, benchmark floors and the etcd3 `lock()` peer), the interop scenarios against
 * `etcdctl lock` and `etcdctl elect`, and the raw client they share. Needs
 * `@lockstep/conformance` installed.
 * @packageDocumentation
 */
export { ETCD_INTEROP } from './interop.js';
export { ETCD_TEST_TTL_MS, ETCD3_RETRY_MS, etcdProfile } from './profile.js';
export { deleteByPrefix, etcdVersion, httpEndpoints, rawClient } from './raw.js';
