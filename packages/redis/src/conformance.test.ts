/**
 * The shared conformance suite on one redis-server (`redis://`, fencing monotonic) and on
 * three independent ones (`redlock://`, fencing none, no counters).
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

/** Lease for the suite's lease tests: renewals run at a third of it, with headroom for a busy machine. */
const TTL_MS = 800;

let server: ServerHandle | undefined;
describeConformance({
  name: 'redis:// conformance',
  target: async () => {
    const provided = await startServerOrSkip('redis');
    if (!provided.handle) return skipConformance(provided.skipReason);
    const s = provided.handle;
    server = s;
    return {
      name: 'redis',
      source: s.source,
      url: s.url,
      adapterModule: '@lockstep/redis',
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
  name: 'redlock:// conformance (3 instances)',
  target: async () => {
    const provided = await startClusterOrSkip('redis', 3);
    if (!provided.handle) return skipConformance(provided.skipReason);
    const c = provided.handle;
    cluster = c;
    return {
      name: 'redlock',
      source: c.nodes[0]?.source ?? 'binary',
      url: c.url,
      adapterModule: '@lockstep/redis',
      ttlMs: TTL_MS,
      connect: (url = c.url) => connect(url),
    };
  },
  teardown: () => cluster?.stop(),
});
