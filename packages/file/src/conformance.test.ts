/**
 * The shared conformance suite on file://, in a fresh temporary directory: everything that
 * applies must pass, fairness included (file:// declares `fifo`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeConformance } from '@lockstep/conformance/vitest';
import { connect } from '@lockstep/core';
import './index.js';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-file-conformance-'));
const url = pathToFileURL(dir).href;

describeConformance({
  name: 'file:// conformance',
  target: () => ({
    name: 'file',
    source: 'embedded',
    url,
    adapterModule: '@lockstep/file',
    ttlMs: 600,
    connect: (override?: string) => connect(override ?? url),
  }),
  teardown: () => rmSync(dir, { recursive: true, force: true }),
});
