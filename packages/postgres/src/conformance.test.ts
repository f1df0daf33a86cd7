/**
 * The shared conformance suite on one PostgreSQL server from @lockstep/testing.
 */
import { describeConformance, skipConformance } from '@lockstep/conformance/vitest';
import { connect } from '@lockstep/core';
import { type ServerHandle, startServerOrSkip } from '@lockstep/testing';
import './index.js';

/** Lease for the suite's lease tests: the 1 s minimum plus headroom for a loaded 2-core machine. */
const TTL_MS = 2_000;

let server: ServerHandle | undefined;
describeConformance({
  name: 'postgres conformance',
  target: async () => {
    const provided = await startServerOrSkip('postgres');
    if (!provided.handle) return skipConformance(provided.skipReason);
    const s = provided.handle;
    server = s;
    return {
      name: 'postgres',
      source: s.source,
      url: s.url,
      adapterModule: '@lockstep/postgres',
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
