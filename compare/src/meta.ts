/**
 * Which lockstep produced a report: `@lockstep/core`'s version, and the commit of the
 * checkout compare runs from (when it runs from one).
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LockstepInfo } from './report/types.js';

/** The output of `git <args>` in `cwd`, or `undefined` outside a checkout (or without git). */
function git(cwd: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The version of `@lockstep/core` this process loads. */
function coreVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = JSON.parse(readFileSync(require.resolve('@lockstep/core/package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The lockstep version and commit: `git rev-parse HEAD` where this package lives, with
 * `-dirty` when the checkout has uncommitted changes; `unknown` when installed from a registry.
 */
export function lockstepInfo(): LockstepInfo {
  const here = dirname(fileURLToPath(import.meta.url));
  const head = git(here, ['rev-parse', 'HEAD']);
  if (head === undefined || !/^[0-9a-f]{40}$/.test(head))
    return { version: coreVersion(), commit: 'unknown' };
  const dirty = (git(here, ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  return { version: coreVersion(), commit: dirty ? `${head}-dirty` : head };
}
