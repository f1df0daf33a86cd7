/**
 * Where things live under the directory, and which directories are refused.
 *
 *   <dir>/<prefix>/locks/<name>.lock            lease record: the holder, the queue
 *   <dir>/<prefix>/semaphores/<name>.semaphore  lease record: up to K holders, the queue
 *   <dir>/<prefix>/rwlocks/<name>.rwlock        lease record: readers or one writer, the queue
 *   <dir>/<prefix>/elections/<name>.election    lease record: the leader and its value, the candidates
 *   <dir>/<prefix>/counters/<name>.counter      counter record: value
 *
 * Each primitive has its own directory (and suffix), so lock `x`, semaphore `x`, read-write lock
 * `x`, election `x` and counter `x` are five files that never collide, and a lock's waiters are
 * not woken by a semaphore's writes.
 *
 * `<name>` is core's injective `encodeName`; segments too long for a file name become
 * `#<sha256>` (`#` never appears in an encoded name, so the two forms cannot collide) and the
 * full name is stored in the record.
 * @module
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { InvalidArgumentError } from '@lockstep/core';
import type { ResourceRef } from '@lockstep/core/driver';

const MAX_SEGMENT = 200;

/** File-name-safe form of an encoded segment. */
export function fileSegment(segment: string): string {
  return segment.length <= MAX_SEGMENT ? segment : `#${createHash('sha256').update(segment).digest('hex')}`;
}

/** Paths of one coordinator's namespace. */
export class Layout {
  readonly locksDir: string;
  readonly semaphoresDir: string;
  readonly rwlocksDir: string;
  readonly electionsDir: string;
  readonly countersDir: string;

  constructor(root: string, prefixSegment: string) {
    const base = join(root, fileSegment(prefixSegment));
    this.locksDir = join(base, 'locks');
    this.semaphoresDir = join(base, 'semaphores');
    this.rwlocksDir = join(base, 'rwlocks');
    this.electionsDir = join(base, 'elections');
    this.countersDir = join(base, 'counters');
    for (const dir of [
      this.locksDir,
      this.semaphoresDir,
      this.rwlocksDir,
      this.electionsDir,
      this.countersDir,
    ])
      mkdirSync(dir, { recursive: true });
  }

  lockFile(ref: ResourceRef): string {
    return join(this.locksDir, `${fileSegment(ref.segment)}.lock`);
  }

  semaphoreFile(ref: ResourceRef): string {
    return join(this.semaphoresDir, `${fileSegment(ref.segment)}.semaphore`);
  }

  rwlockFile(ref: ResourceRef): string {
    return join(this.rwlocksDir, `${fileSegment(ref.segment)}.rwlock`);
  }

  electionFile(ref: ResourceRef): string {
    return join(this.electionsDir, `${fileSegment(ref.segment)}.election`);
  }

  counterFile(ref: ResourceRef): string {
    return join(this.countersDir, `${fileSegment(ref.segment)}.counter`);
  }
}

const NETWORK_FS = new Set([
  'nfs',
  'nfs4',
  'cifs',
  'smb3',
  'smbfs',
  'fuse.sshfs',
  '9p',
  'afs',
  'ceph',
  'glusterfs',
  'lustre',
]);

/** The file system type of `path` from /proc/mounts (Linux), or `undefined` elsewhere. */
export function fileSystemType(path: string): string | undefined {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return undefined;
  }
  let best: { mount: string; type: string } | undefined;
  for (const line of mounts.split('\n')) {
    const [, mount, type] = line.split(' ');
    if (!mount || !type) continue;
    const m = mount.replace(/\\040/g, ' ');
    if (
      (path === m || path.startsWith(m.endsWith('/') ? m : `${m}/`)) &&
      (!best || m.length > best.mount.length)
    ) {
      best = { mount: m, type };
    }
  }
  return best?.type;
}

/**
 * Checks the directory of a `file://` URL: absolute, not the root, a directory (created if
 * missing), writable, and on a local file system — flock and the shared monotonic clock only
 * hold among processes of one host, so network file systems are refused unless
 * `allowNetworkFileSystem` says the caller knows better.
 */
export function prepareRoot(dir: string, allowNetworkFileSystem: boolean): string {
  if (!isAbsolute(dir))
    throw new InvalidArgumentError('url', `file:// needs an absolute directory, got "${dir}"`);
  if (dir === '/')
    throw new InvalidArgumentError('url', 'refusing to use the file system root as the lock directory');
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new InvalidArgumentError('url', `cannot create directory "${dir}": ${(error as Error).message}`);
  }
  const real = realpathSync(dir);
  if (!statSync(real).isDirectory()) throw new InvalidArgumentError('url', `"${dir}" is not a directory`);
  try {
    accessSync(real, constants.W_OK | constants.R_OK);
  } catch {
    throw new InvalidArgumentError('url', `directory "${dir}" is not readable and writable by this process`);
  }
  const type = fileSystemType(real);
  if (type && NETWORK_FS.has(type) && !allowNetworkFileSystem) {
    throw new InvalidArgumentError(
      'url',
      `"${dir}" is on a network file system (${type}); file:// locks are only safe among processes of one host`,
    );
  }
  return real;
}
