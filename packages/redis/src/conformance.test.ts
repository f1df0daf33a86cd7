/**
 * The shared conformance suite on one redis-server (`redis://`, fencing monotonic) and on
 * three independent ones (`redlock://`, fencing none, no counters).
 */
import { describeServerConformance } from '@lockstep/conformance/vitest';
import './index.js';

/** Lease for the suite's lease tests: renewals run at a third of it, with headroom for a busy machine. */
const TTL_MS = 800;

describeServerConformance({
  name: 'redis:// conformance',
  kind: 'redis',
  shape: { name: 'redis', adapterModule: '@lockstep/redis', ttlMs: TTL_MS },
});

describeServerConformance({
  name: 'redlock:// conformance (3 instances)',
  kind: 'redis',
  nodes: 3,
  shape: { name: 'redlock', adapterModule: '@lockstep/redis', ttlMs: TTL_MS },
});
