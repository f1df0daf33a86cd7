/**
 * The shared conformance suite, on one ZooKeeper server and on a 3-node ensemble.
 */
import { describeConformance, skipConformance } from '@lockstep/conformance/vitest';
import { connect } from '@lockstep/core';
import {
  type ClusterHandle,
  type ServerHandle,
  startClusterOrSkip,
  startServerOrSkip,
} from '@lockstep/testing';
import './index.js';

/**
 * Lease for the suite's lease tests, and the session timeout asked for: with a per-session
 * lease the session timeout is how long a dead or frozen holder keeps its locks, so the suite's
 * process tests expect it to match the TTL. 3 s leaves a loaded 2-core machine room for
 * renewals and heartbeats (the test servers tick every 500 ms, so 3 s is 6 ticks).
 */
const TTL_MS = 3_000;
const withSession = (url: string) => `${url}?sessionTimeoutMs=${TTL_MS}`;

let server: ServerHandle | undefined;
describeConformance({
  name: 'zookeeper conformance (1 server)',
  target: async () => {
    const provided = await startServerOrSkip('zookeeper');
    if (!provided.handle) return skipConformance(provided.skipReason);
    const s = provided.handle;
    server = s;
    const url = withSession(s.url);
    return {
      name: 'zookeeper',
      source: s.source,
      url,
      adapterModule: '@lockstep/zookeeper',
      ttlMs: TTL_MS,
      connect: (override = url) => connect(override),
      ...(s.source === 'env'
        ? {}
        : {
            server: {
              kill: () => s.kill(),
              restart: () => s.restart(),
              pause: () => s.pause(),
              resume: () => s.resume(),
            },
          }),
    };
  },
  teardown: () => server?.stop(),
});

let cluster: ClusterHandle | undefined;
describeConformance({
  name: 'zookeeper conformance (3-node ensemble)',
  target: async () => {
    const provided = await startClusterOrSkip('zookeeper', 3);
    if (!provided.handle) return skipConformance(provided.skipReason);
    const c = provided.handle;
    cluster = c;
    const url = withSession(c.url);
    return {
      name: 'zookeeper',
      source: c.nodes[0]?.source ?? 'binary',
      url,
      adapterModule: '@lockstep/zookeeper',
      ttlMs: TTL_MS,
      connect: (override = url) => connect(override),
    };
  },
  teardown: () => cluster?.stop(),
});
