/**
 * One temp directory per server node: data, config and log live there, and `stop()` removes it.
 * @module
 */
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unwatchDirectory, watchDirectory } from './watchdog.js';

/** Owner to give the directory to, when the server must not run as us (PostgreSQL as root). */
export interface DirOwner {
  uid: number;
  gid: number;
}

/** Creates `$TMPDIR/lockstep-<label>-XXXXXX`, owned by `owner` when given, removed by the watchdog if we die. */
export function makeTempDir(label: string, owner?: DirOwner): string {
  const dir = mkdtempSync(join(tmpdir(), `lockstep-${label}-`));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  watchDirectory(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  unwatchDirectory(dir);
}

export function removeTempDirNow(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  unwatchDirectory(dir);
}
