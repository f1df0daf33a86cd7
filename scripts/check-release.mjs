#!/usr/bin/env node
// The release pipeline, checked before anything is released: `changeset status` reads every
// pending changeset (a malformed one fails here, not on release day), and a version run in a
// scratch copy of the repository must write a CHANGELOG.md for every package it bumps and
// consume every changeset. Nothing in the checkout changes.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const changeset = join(root, 'node_modules', '.bin', 'changeset');

function run(args, cwd) {
  const result = spawnSync(changeset, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write(`changeset ${args.join(' ')} failed in ${cwd}:\n${result.stdout}${result.stderr}\n`);
    process.exit(1);
  }
  return result.stdout;
}

/** Package directories (with their package.json) of the workspace, from pnpm-workspace.yaml. */
function packageDirs(base) {
  const yaml = readFileSync(join(base, 'pnpm-workspace.yaml'), 'utf8');
  const patterns = [...yaml.matchAll(/^\s+-\s*['"]?([^'"\n]+?)['"]?\s*$/gm)].map((m) => m[1]);
  return patterns
    .flatMap((pattern) =>
      pattern.endsWith('/*')
        ? readdirSync(join(base, pattern.slice(0, -2))).map((d) => join(pattern.slice(0, -2), d))
        : [pattern],
    )
    .filter((dir) => existsSync(join(base, dir, 'package.json')));
}

const major = (version) => Number(version.split('.')[0]);

run(['status'], root);

/** Packages some changeset bumps by a major version. */
function declaredMajors(dir) {
  const majors = new Set();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
    const front = /^---\n([\s\S]*?)\n---/.exec(readFileSync(join(dir, file), 'utf8'))?.[1] ?? '';
    for (const [, name, bump] of front.matchAll(/^['"]?([^'":]+)['"]?\s*:\s*(major|minor|patch)\s*$/gm))
      if (bump === 'major') majors.add(name);
  }
  return majors;
}
const majors = declaredMajors(join(root, '.changeset'));

const pending = readdirSync(join(root, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
const scratch = mkdtempSync(join(tmpdir(), 'lockstep-release-'));
try {
  // A copy without installed or built files: the version run only reads manifests and changesets.
  cpSync(root, scratch, {
    recursive: true,
    filter: (source) =>
      !/[/\\](node_modules|dist|\.turbo|\.git|\.tmp|lockstep-report)([/\\]|$)/.test(
        source.slice(root.length),
      ),
  });
  const before = Object.fromEntries(
    packageDirs(scratch).map((dir) => [
      dir,
      JSON.parse(readFileSync(join(scratch, dir, 'package.json'), 'utf8')),
    ]),
  );
  // changeset version needs node_modules/@changesets/* only through the binary; run it from the copy.
  run(['version'], scratch);
  const problems = [];
  let bumped = 0;
  for (const [dir, manifest] of Object.entries(before)) {
    if (manifest.private) continue;
    const after = JSON.parse(readFileSync(join(scratch, dir, 'package.json'), 'utf8'));
    if (after.version === manifest.version) continue;
    bumped++;
    process.stdout.write(`  ${manifest.name} ${manifest.version} → ${after.version}\n`);
    // A major bump no changeset asked for comes from a dependency range (a peer range that a
    // 0.x minor leaves): it would publish a breaking version nobody decided on.
    if (major(after.version) > major(manifest.version) && !majors.has(manifest.name))
      problems.push(
        `${manifest.name} would go ${manifest.version} → ${after.version}, a major bump no changeset declares`,
      );
    if (!existsSync(join(scratch, dir, 'CHANGELOG.md')))
      problems.push(`${manifest.name} was bumped to ${after.version} but got no CHANGELOG.md`);
  }
  const left = readdirSync(join(scratch, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
  if (pending.length > 0 && bumped === 0) problems.push(`${pending.length} changesets bumped no package`);
  if (left.length > 0) problems.push(`changesets left after the version run: ${left.join(', ')}`);
  if (problems.length > 0) {
    process.stderr.write(`release check failed:\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `release check: ${pending.length} changesets, a version run bumps ${bumped} packages, each with a CHANGELOG.md\n`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
