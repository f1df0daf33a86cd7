#!/usr/bin/env node
// Publishing checks for every public package, on what npm would really ship: pnpm pack →
// publint and arethetypeswrong on the tarball; its files (built code, README and LICENSE: no
// sources, tests, fixtures, test helpers or source maps, no third-party code bundled in); its
// manifest (repository, homepage, bugs, keywords; adapters peer-depend on @lockstep/core with a
// range every 0.x minor stays inside); the README's install line; bins that exist before a
// build. Then @lockstep/core installed from its tarball into empty ESM and CJS projects, which
// must load it and take a lock, and a fresh install of the workspace, which must print no warning.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAll, root, sh } from './pack.mjs';

const work = mkdtempSync(join(tmpdir(), 'lockstep-pack-'));
const SHIPPED = /^(dist\/|bin\/|README\.md$|LICENSE$|package\.json$)/;
const TEST_FILE = /(\.test\.[cm]?[jt]sx?$|\/fixtures\/|\/test-support|\.map$)/;
/** Packages that must use the application's @lockstep/core (one registry of adapters, one set of error classes). */
const PEER_ON_CORE = /^@lockstep\/(redis|etcd|zookeeper|postgres|consul|file)$/;
const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;
let failures = 0;

/** What is wrong with a packed package's files and manifest (empty when nothing is). */
function packageProblems({ dir, name, manifest, tarball, files }) {
  const problems = [];
  const paths = files.map((f) => f.path);
  const stray = paths.filter((path) => TEST_FILE.test(path) || !SHIPPED.test(path));
  if (stray.length > 0) problems.push(`the tarball carries files it must not: ${stray.join(', ')}`);
  for (const required of ['LICENSE', 'README.md'])
    if (!paths.includes(required)) problems.push(`the tarball has no ${required}`);

  // esbuild marks every module it bundled with its path: a dependency bundled in shows as
  // node_modules/ (tsup's own CJS shim for import.meta.url is the one expected).
  const unpacked = join(work, `unpacked-${name.replace(/\W/g, '_')}`);
  mkdirSync(unpacked);
  sh('tar', ['-xzf', tarball, '-C', unpacked]);
  const bundled = spawnSync('grep', ['-rE', '^// .*node_modules/', join(unpacked, 'package', 'dist')], {
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .filter((line) => line && !line.includes('/node_modules/tsup/assets/'))
    .map((line) => line.replace(`${unpacked}/package/`, ''));
  if (bundled.length > 0) problems.push(`third-party code is bundled in: ${bundled.join('; ')}`);

  if (manifest.repository?.directory !== dir || !manifest.repository?.url)
    problems.push(`repository must give the url and directory "${dir}"`);
  for (const field of ['homepage', 'bugs', 'keywords', 'license'])
    if (!manifest[field] || manifest[field].length === 0) problems.push(`${field} is missing`);
  for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
    // In 0.x a caret range ends at the next minor: a core minor would then force a major of every dependent.
    if (peer.startsWith('@lockstep/') && !/^>=0\.\d+\.\d+ <1\.0\.0$/.test(range))
      problems.push(`peer ${peer}@"${range}" must be ">=0.x.y <1.0.0"`);
  }
  if (
    PEER_ON_CORE.test(name) &&
    (!manifest.peerDependencies?.['@lockstep/core'] || manifest.dependencies?.['@lockstep/core'])
  )
    problems.push('@lockstep/core must be a peer dependency, not a dependency');

  for (const [bin, target] of Object.entries(manifest.bin ?? {})) {
    // A workspace install links bins before the build: the target must be a committed file.
    const tracked = sh('git', ['ls-files', '--', join(dir, target)]).trim();
    if (!tracked) problems.push(`bin ${bin} points at ${target}, which is not a committed file`);
  }

  // The API reference documents each entry point: the list typedoc reads must follow the exports.
  const source = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  const entries = Object.values(source.exports ?? {}).flatMap((e) => e?.['@lockstep/source'] ?? []);
  if (JSON.stringify(source.typedocOptions?.entryPoints) !== JSON.stringify(entries))
    problems.push(`typedocOptions.entryPoints must be the exports' sources: ${entries.join(', ')}`);

  const readme = readFileSync(join(root, dir, 'README.md'), 'utf8');
  const install = /^# [^\n]+\n+```sh\n([^`]*)```/
    .exec(readme)?.[1]
    ?.split('\n')
    .find((l) => l.startsWith('npm install'));
  const requiredPeers = Object.keys(manifest.peerDependencies ?? {}).filter(
    (peer) => !manifest.peerDependenciesMeta?.[peer]?.optional,
  );
  const installWords = new Set(install?.split(/\s+/) ?? []);
  const missing = [name, ...requiredPeers].filter((word) => !installWords.has(word));
  if (!install) problems.push('the README does not start with an `npm install` line');
  else if (missing.length > 0) problems.push(`the README's install line does not name ${missing.join(', ')}`);
  return problems;
}

/** Installs the workspace from a copy of the checkout (as a fresh clone has it) and returns its warnings. */
function freshInstallWarnings() {
  const copy = join(work, 'fresh-clone');
  cpSync(root, copy, {
    recursive: true,
    filter: (source) =>
      !/[/\\](node_modules|dist|\.turbo|\.git|\.tmp|lockstep-report)([/\\]|$)/.test(
        source.slice(root.length),
      ),
  });
  const result = spawnSync(
    'pnpm',
    ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only'],
    {
      cwd: copy,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
    },
  );
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) return [`pnpm install failed:\n${output}`];
  return output.split('\n').filter((line) => /\bWARN\b/.test(line));
}

try {
  const packs = packAll(work);
  for (const pack of packs) {
    try {
      sh('pnpm', ['exec', 'publint', '--strict', join(root, pack.dir)]);
      // node10 resolution cannot see `exports`; our packages target Node >= 20.
      sh('pnpm', ['exec', 'attw', pack.tarball, '--profile', 'node16', '--format', 'table-flipped']);
      const problems = packageProblems(pack);
      if (problems.length > 0) throw new Error(problems.join('\n     '));
      const unpacked = pack.files.reduce((sum, f) => sum + f.size, 0);
      console.log(
        `ok   ${pack.name}: publint, attw, files, manifest and README pass (${kB(pack.packedBytes)} packed, ${kB(unpacked)} unpacked, ${pack.files.length} files)`,
      );
    } catch (error) {
      failures++;
      console.log(`FAIL ${pack.name}: ${error.stdout?.toString() ?? error.message}`);
    }
  }

  const coreTarball = packs.find((p) => p.name === '@lockstep/core').tarball;
  const probe = `
    const lock = coord.lock('packed');
    const held = await lock.acquire();
    if (typeof held.fencingToken !== 'bigint') throw new Error('no token');
    await held.release();
    await coord.close();
    console.log('__KIND__ consumer ok');`;
  for (const kind of ['esm', 'cjs']) {
    const app = join(work, `app-${kind}`);
    mkdirSync(app);
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

  const warnings = freshInstallWarnings();
  if (warnings.length === 0) console.log('ok   a fresh pnpm install --frozen-lockfile prints no warning');
  else {
    failures++;
    console.log(`FAIL a fresh pnpm install prints warnings:\n     ${warnings.join('\n     ')}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
