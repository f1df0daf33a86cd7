/**
 * The shared conformance suite, against the Consul server from @lockstep/testing: here the Consul
 * HTTP API emulator (its `session_ttl_min` lowered to 1 s, and the adapter told so through the URL),
 * and unchanged against a real Consul given by `LOCKSTEP_TEST_CONSUL_URL` (then the documented
 * 10 s minimum applies and the lease tests take longer).
 */
import { describeServerConformance } from '@lockstep/conformance/vitest';
import './index.js';
import { SERVER_LABEL } from './test-support/server.js';

describeServerConformance({
  name: `consul conformance (${SERVER_LABEL})`,
  kind: 'consul',
  start: { consulEmulator: { sessionTtlMin: '1s' } },
  shape: (source) =>
    source === 'emulator'
      ? {
          name: 'consul',
          adapterModule: '@lockstep/consul',
          ttlMs: 1_000,
          query: { sessionTtlMinMs: '1000' },
        }
      : { name: 'consul', adapterModule: '@lockstep/consul', ttlMs: 10_000 },
});
