/**
 * The shared conformance suite, on one etcd server and on a 3-member cluster.
 */
import { describeServerConformance } from '@lockstep/conformance/vitest';
import './index.js';

/** Lease for the suite's lease tests: etcd's 2 s minimum plus headroom for a loaded 2-core machine. */
const shape = { name: 'etcd', adapterModule: '@lockstep/etcd', ttlMs: 3_000 } as const;

describeServerConformance({ name: 'etcd conformance (1 node)', kind: 'etcd', shape });
describeServerConformance({ name: 'etcd conformance (3-member cluster)', kind: 'etcd', nodes: 3, shape });
