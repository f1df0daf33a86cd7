/**
 * The shared conformance suite, on one ZooKeeper server and on a 3-node ensemble.
 */
import { describeServerConformance } from '@lockstep/conformance/vitest';
import './index.js';

/**
 * Lease for the suite's lease tests, and the session timeout asked for: with a per-session
 * lease the session timeout is how long a dead or frozen holder keeps its locks, so the suite's
 * process tests expect it to match the TTL. 3 s leaves a loaded 2-core machine room for
 * renewals and heartbeats (the test servers tick every 500 ms, so 3 s is 6 ticks).
 */
const TTL_MS = 3_000;
const shape = {
  name: 'zookeeper',
  adapterModule: '@lockstep/zookeeper',
  ttlMs: TTL_MS,
  query: { sessionTimeoutMs: String(TTL_MS) },
} as const;

describeServerConformance({ name: 'zookeeper conformance (1 server)', kind: 'zookeeper', shape });
describeServerConformance({
  name: 'zookeeper conformance (3-node ensemble)',
  kind: 'zookeeper',
  nodes: 3,
  shape,
});
