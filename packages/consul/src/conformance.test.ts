/**
 * The shared conformance suite, against the Consul server from @lockstep/testing: here the Consul
 * HTTP API emulator (its `session_ttl_min` lowered to 1 s, and the adapter told so through the URL),
 * and unchanged against a real Consul given by `LOCKSTEP_TEST_CONSUL_URL` (then the documented
 * 10 s minimum applies and the lease tests take longer).
 */
import { describeConformance, skipConformance } from '@lockstep/conformance/vitest';
import { connect } from '@lockstep/core';
import { type ServerHandle, startServerOrSkip } from '@lockstep/testing';
import './index.js';
import { SERVER_LABEL } from './test-support/server.js';

let server: ServerHandle | undefined;
describeConformance({
  name: `consul conformance (${SERVER_LABEL})`,
  target: async () => {
    const provided = await startServerOrSkip('consul', { consulEmulator: { sessionTtlMin: '1s' } });
    if (!provided.handle) return skipConformance(provided.skipReason);
    const s = provided.handle;
    server = s;
    const emulator = s.source === 'emulator';
    // Child processes connect with exactly this URL, so the TTL minimum travels in it.
    const url = emulator ? `${s.url}?sessionTtlMinMs=1000` : s.url;
    return {
      name: 'consul',
      source: s.source,
      url,
      adapterModule: '@lockstep/consul',
      ttlMs: emulator ? 1_000 : 10_000,
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
