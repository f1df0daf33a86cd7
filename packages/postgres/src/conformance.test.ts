/**
 * The shared conformance suite on one PostgreSQL server from @lockstep/testing.
 */
import { describeServerConformance } from '@lockstep/conformance/vitest';
import './index.js';

describeServerConformance({
  name: 'postgres conformance',
  kind: 'postgres',
  // Lease for the suite's lease tests: the 1 s minimum plus headroom for a loaded 2-core machine.
  shape: { name: 'postgres', adapterModule: '@lockstep/postgres', ttlMs: 2_000 },
});
