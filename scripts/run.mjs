#!/usr/bin/env node
// The README's two commands land here: `npm run demo` and `npm test`. Each works on a
// fresh machine with only Node and npm: it installs pnpm when missing, the workspace's
// dependencies, builds, and (for tests) provisions the servers the adapters are tested on.
// No dependencies of its own: it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [command = 'test', ...rest] = process.argv.slice(2);
const started = Date.now();

function step(message) {
  const secs = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`\n[lockstep ${secs}s] ${message}\n`);
}

function run(cmd, args, { allowFail = false, env = {} } = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.error && !allowFail) throw result.error;
  if (result.status !== 0 && !allowFail) {
    step(`failed: ${cmd} ${args.join(' ')} (exit ${result.status})`);
    process.exit(result.status ?? 1);
  }
  return result.status ?? 1;
}

function has(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** pnpm 10: on PATH, else installed globally with npm, else through npx. */
function ensurePnpm() {
  if (has('pnpm')) return ['pnpm'];
  step(
    'pnpm not found: installing pnpm@10 with npm (corepack is not used: its signature check can fail offline)',
  );
  if (spawnSync('npm', ['i', '-g', 'pnpm@10'], { stdio: 'inherit' }).status === 0 && has('pnpm'))
    return ['pnpm'];
  step('global install failed: using npx pnpm@10');
  return ['npx', '-y', 'pnpm@10'];
}

const pnpm = ensurePnpm();
const p = (args, opts) => run(pnpm[0], [...pnpm.slice(1), ...args], opts);

step('installing dependencies (pnpm install)');
if (p(['install', '--frozen-lockfile', '--reporter=append-only'], { allowFail: true }) !== 0) {
  step(
    'WARNING: pnpm-lock.yaml does not match the package.json files; installing without the frozen lockfile',
  );
  p(['install', '--no-frozen-lockfile', '--reporter=append-only']);
}

if (command === 'demo') {
  // The demo runs from TypeScript sources (tsx + the @lockstep/source condition): no build.
  step('running the demo');
  process.exit(p(['--filter', '@lockstep/demo', 'start', ...rest], { allowFail: true }));
}

if (command !== 'test') {
  process.stderr.write(`usage: node scripts/run.mjs demo|test\n`);
  process.exit(2);
}

step('building every package (turbo run build)');
p(['turbo', 'run', 'build', '--output-logs=errors-only']);

step('provisioning test servers (redis, postgres, etcd, zookeeper; consul is an emulator)');
p(['--filter', '@lockstep/testing', 'run', 'provision']);

// Checks run to the end and are all reported; any failure fails the command.
const failedChecks = [];
const check = (name, args) => {
  step(name);
  if (p(args, { allowFail: true }) !== 0) failedChecks.push(name);
};
step('no dependency cycle between packages, no import cycle within one (check-graph)');
if (run(process.execPath, [join(root, 'scripts', 'check-graph.mjs')], { allowFail: true }) !== 0)
  failedChecks.push('check-graph');
step(
  'release pipeline: changeset status, and a version run in a scratch copy writes every CHANGELOG (check-release)',
);
if (run(process.execPath, [join(root, 'scripts', 'check-release.mjs')], { allowFail: true }) !== 0)
  failedChecks.push('check-release');
check('lint (biome)', ['biome', 'check', '.']);
check('typecheck (tsc in every package)', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']);
check('package checks: publint, arethetypeswrong, ESM and CJS consumers of packed tarballs', [
  'run',
  'check:packages',
]);
check(
  'consumer apps: the tarballs in ESM, CJS and TypeScript apps with the oldest and newest clients, a lock on each real server',
  ['run', 'check:consumers'],
);
check('API reference (typedoc: a broken link or an unexported referenced type fails)', ['run', 'docs:api']);

step('tests (vitest in every package; real servers)');
const resultsDir = join(root, '.tmp', 'vitest');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });
// Two packages at a time, one test file each: most of a file's time is spent waiting on servers
// and leases, not on a core, so two share the machine's two cores (sequential took 30 min).
const testStatus = p(['turbo', 'run', 'test', '--concurrency=2', '--continue', '--output-logs=full'], {
  allowFail: true,
  env: { LOCKSTEP_VITEST_JSON_DIR: resultsDir },
});

// One closing line a CI reader (person or parser) can trust: the sum over every package.
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of existsSync(resultsDir) ? readdirSync(resultsDir) : []) {
  const json = JSON.parse(readFileSync(join(resultsDir, file), 'utf8'));
  passed += json.numPassedTests ?? 0;
  failed += json.numFailedTests ?? 0;
  skipped += (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
}
step(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (testStatus !== 0 && failed === 0) failed = 1; // a crashed suite counts as a failure
for (const name of failedChecks) step(`FAILED: ${name}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(testStatus === 0 && failed === 0 && passed > 0 && failedChecks.length === 0 ? 0 : 1);
