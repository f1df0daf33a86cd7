#!/usr/bin/env node
// `pnpm compare`: measures the packages as users install them — the built dist/, not the
// TypeScript sources through a dev transform (tsx adds work to every function it creates,
// which would be charged to lockstep and not to the hand-written floors). So it builds first
// (turbo: cached, a few seconds when nothing changed), then runs the published CLI. stdout
// carries the results only: the build's output goes to stderr.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.stderr.write('compare: building @lockstep/compare and what it depends on (turbo, cached)\n');
const build = spawnSync(
  'pnpm',
  ['exec', 'turbo', 'run', 'build', '--filter=@lockstep/compare...', '--output-logs=errors-only'],
  { cwd: root, stdio: ['ignore', 2, 2] },
);
if (build.status !== 0) process.exit(build.status ?? 1);
const cli = join(root, 'compare', 'dist', 'cli.js');
const run = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(run.status ?? (run.signal ? 1 : 0));
