/**
 * The suite against memory://, the reference backend: everything that applies must pass.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@lockstep/core';
import { describeConformance } from './vitest.js';

const url = `memory://conformance-${randomBytes(4).toString('hex')}`;

describeConformance({
  name: 'memory:// conformance',
  target: () => ({
    name: 'memory',
    source: 'embedded',
    url,
    adapterModule: '@lockstep/core',
    ttlMs: 300,
    connect: (override?: string) => connect(override ?? url),
  }),
});
