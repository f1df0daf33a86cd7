// What npm would really ship, for the publishing checks: every public package of the workspace
// packed with pnpm (which writes the real version ranges in place of `workspace:` ones).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The workspace root. */
export const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

/** Runs a command, returns its stdout; its stderr goes to ours. */
export const sh = (cmd, args, cwd = root, env = process.env) =>
  execFileSync(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] }).toString();

/** Directories (relative to the root) of every package that is published. */
export function publicPackageDirs() {
  return [
    'conformance',
    'compare',
    ...readdirSync(join(root, 'packages')).map((d) => `packages/${d}`),
  ].filter((dir) => !JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).private);
}

/**
 * Packs every public package into `dest`: one entry per package with its directory, name, the
 * tarball's path, its packed size and its files (path and size, as `tar -tv` lists them).
 */
export function packAll(dest) {
  return publicPackageDirs().map((dir) => {
    const before = new Set(readdirSync(dest));
    sh('pnpm', ['pack', '--pack-destination', dest], join(root, dir));
    const file = readdirSync(dest).find((f) => !before.has(f) && f.endsWith('.tgz'));
    if (!file) throw new Error(`pnpm pack wrote no tarball for ${dir}`);
    const tarball = join(dest, file);
    const files = sh('tar', ['-tvzf', tarball])
      .trim()
      .split('\n')
      .map((line) => {
        const fields = line.trim().split(/\s+/);
        return {
          path: fields
            .slice(5)
            .join(' ')
            .replace(/^package\//, ''),
          size: Number(fields[2]),
        };
      });
    const manifest = JSON.parse(sh('tar', ['-xzOf', tarball, 'package/package.json']));
    return { dir, name: manifest.name, manifest, tarball, packedBytes: statSync(tarball).size, files };
  });
}
