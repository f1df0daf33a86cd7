#!/usr/bin/env node
// Publishing checks for every public package, on what npm would really ship:
// pnpm pack → publint and arethetypeswrong on the tarball (and, for the packages that promise
// it, no test files or fixtures in it); then @lockstep/core installed from its tarball into
// empty ESM and CJS projects, which must load it and take a lock.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const work = mkdtempSync(join(tmpdir(), 'lockstep-pack-'));
const sh = (cmd, args, cwd = root) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }).toString();

const dirs = ['conformance', 'compare', ...readdirSync(join(root, 'packages')).map((d) => `packages/${d}`)];
// Packages whose tarball must carry no tests, test fixtures or test helpers.
const WITHOUT_TESTS = new Set(['@lockstep/conformance', '@lockstep/compare']);
const TEST_FILE = /(\.test\.[cm]?[jt]sx?$|\/fixtures\/|\/test-support)/;
let failures = 0;
try {
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    if (pkg.private) continue;
    sh('pnpm', ['pack', '--pack-destination', work], join(root, dir));
    const tarball = readdirSync(work).find((f) => f.startsWith(pkg.name.replace('@', '').replace('/', '-')));
    try {
      sh('pnpm', ['exec', 'publint', '--strict', join(root, dir)]);
      // node10 resolution cannot see `exports`; our packages target Node >= 20.
      sh('pnpm', ['exec', 'attw', join(work, tarball), '--profile', 'node16', '--format', 'table-flipped']);
      if (WITHOUT_TESTS.has(pkg.name)) {
        const tests = sh('tar', ['-tzf', join(work, tarball)])
          .split('\n')
          .filter((file) => TEST_FILE.test(file));
        if (tests.length > 0) throw new Error(`the tarball carries test files: ${tests.join(', ')}`);
      }
      console.log(`ok   ${pkg.name}: publint and attw pass`);
    } catch (error) {
      failures++;
      console.log(`FAIL ${pkg.name}: ${error.stdout?.toString() ?? error.message}`);
    }
  }

  const coreTarball = join(
    work,
    readdirSync(work).find((f) => f.startsWith('lockstep-core-')),
  );
  const probe = `
    const lock = coord.lock('packed');
    const held = await lock.acquire();
    if (typeof held.fencingToken !== 'bigint') throw new Error('no token');
    await held.release();
    await coord.close();
    console.log('__KIND__ consumer ok');`;
  for (const kind of ['esm', 'cjs']) {
    const app = join(work, `app-${kind}`);
    sh('mkdir', ['-p', app]);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: `app-${kind}`, private: true, type: kind === 'esm' ? 'module' : 'commonjs' }),
    );
    sh('npm', ['install', '--no-audit', '--no-fund', '--silent', coreTarball], app);
    const body = probe.replace('__KIND__', kind);
    const code =
      kind === 'esm'
        ? `import { connect } from '@lockstep/core';\nconst coord = await connect('memory://');\n${body}`
        : `const { connect } = require('@lockstep/core');\n(async () => { const coord = await connect('memory://');\n${body}\n})().catch((e) => { console.error(e); process.exit(1); });`;
    writeFileSync(join(app, kind === 'esm' ? 'index.mjs' : 'index.cjs'), code);
    try {
      console.log(sh('node', [kind === 'esm' ? 'index.mjs' : 'index.cjs'], app).trim());
    } catch {
      failures++;
      console.log(`FAIL ${kind} consumer of the packed @lockstep/core`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
