/**
 * The shared conformance suite, on one etcd server and on a 3-member cluster.
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

/** Lease for the suite's lease tests: etcd's 2 s minimum plus headroom for a loaded 2-core machine. */
const TTL_MS = 3_000;

let server: ServerHandle | undefined;
describeConformance({
  name: 'etcd conformance (1 node)',
  target: async () => {
    const provided = await startServerOrSkip('etcd');
    if (!provided.handle) return skipConformance(provided.skipReason);
    const s = provided.handle;
    server = s;
    return {
      name: 'etcd',
      source: s.source,
      url: s.url,
      adapterModule: '@lockstep/etcd',
      ttlMs: TTL_MS,
      connect: (url = s.url) => connect(url),
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
  name: 'etcd conformance (3-member cluster)',
  target: async () => {
    const provided = await startClusterOrSkip('etcd', 3);
    if (!provided.handle) return skipConformance(provided.skipReason);
    const c = provided.handle;
    cluster = c;
    return {
      name: 'etcd',
      source: c.nodes[0]?.source ?? 'binary',
      url: c.url,
      adapterModule: '@lockstep/etcd',
      ttlMs: TTL_MS,
      connect: (url = c.url) => connect(url),
    };
  },
  teardown: () => cluster?.stop(),
});
