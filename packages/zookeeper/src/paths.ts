/**
 * Every znode path lockstep touches, derived in this one place.
 *
 * Layout (`B` = the URL's chroot, `P` = the encoded prefix, `N` = the encoded name; encoded
 * segments never contain `/` and are never `.` or `..`, so the map is injective):
 *
 * | what | path |
 * |---|---|
 * | a lock's queue (its contenders are its children) | `B/P/locks/N` |
 * | one contender (EPHEMERAL_SEQUENTIAL) | `B/P/locks/N/_c_<uuid>-lock-<10-digit sequence>` |
 * | a semaphore's leases (the first ones hold) | `B/P/semaphores/N` |
 * | one lease (data: the permits its client declared) | `B/P/semaphores/N/_c_<uuid>-lease-of-<permits>-<sequence>` |
 * | a read-write lock's queue | `B/P/rwlocks/N`, children `_c_<uuid>-__READ__<sequence>` or `-__WRIT__` |
 * | an election's candidates (data: the proclaimed value) | `B/P/elections/N`, children `_c_<uuid>-latch-<sequence>` |
 * | a counter (the value as a decimal string) | `B/P/counters/N` |
 *
 * Children are named exactly as Apache Curator's recipes name theirs (a protected create:
 * `_c_` + a per-attempt UUID + `-` + the recipe's marker, then ZooKeeper's sequence):
 * `InterProcessMutex`, `InterProcessSemaphoreV2`, `InterProcessReadWriteLock`, `LeaderLatch`.
 * So a primitive with a `native` location only differs in where it lives: the path the user
 * gave, under `B`, where Curator clients queue too (a native semaphore also takes Curator's
 * turnstile, `<path>/locks`, and keeps its leases in `<path>/leases`).
 *
 * `/zookeeper` is reserved by the server at the root: a prefix that encodes to `zookeeper`
 * is written `%7Aookeeper` there (`encodeName` never escapes `z`, so this stays injective).
 * @module
 */
import { InvalidArgumentError, type NativeLockLocation } from '@lockstep/core';
import type { LockRef, ResourceRef } from '@lockstep/core/driver';

/** The protected-name marker Curator puts first (`ProtectedUtils.PROTECTED_PREFIX`). */
export const PROTECTED_PREFIX = '_c_';
/** The lock node name of Curator's `InterProcessMutex` (`LOCK_NAME`); the sequence follows it. */
export const LOCK_NAME = 'lock-';
/** The lease node name of Curator's `InterProcessSemaphoreV2`. */
export const LEASE_NAME = 'lease-';
/** The reader's and the writer's node names of Curator's `InterProcessReadWriteLock` (equally long). */
export const READ_NAME = '__READ__';
export const WRITE_NAME = '__WRIT__';
/** The candidate node name of Curator's `LeaderLatch`. */
export const LATCH_NAME = 'latch-';
/** Longest native path accepted, in UTF-8 bytes. */
export const MAX_NATIVE_PATH_BYTES = 4096;

/** Where one lock's contenders queue. */
export interface LockLayout {
  /** The queue node: every contender is a child of it. */
  readonly queue: string;
  /** Whether this is a native (Curator-shared) location. */
  readonly native: boolean;
  /**
   * The node the queue belongs to, removed after it once empty (a semaphore's own node, parent
   * of its turnstile and its leases); absent when the queue node stands alone.
   */
  readonly container?: string;
}

/** The lock's queue under `base` (the chroot, `''` for none). */
export function lockLayout(base: string, lock: LockRef): LockLayout {
  return placeOf(base, lock, 'locks');
}

/** A read-write lock's queue (readers and writers in one line). */
export function readWriteLayout(base: string, lock: LockRef): LockLayout {
  return placeOf(base, lock, 'rwlocks');
}

/** An election's queue of candidates. */
export function electionLayout(base: string, election: LockRef): LockLayout {
  return placeOf(base, election, 'elections');
}

/** Where a semaphore's leases queue, and the lock guarding them when it is Curator's. */
export interface SemaphoreLayout {
  /** The leases (lockstep's own semaphore is this one queue). */
  readonly leases: LockLayout;
  /** A native semaphore's turnstile: the lock `InterProcessSemaphoreV2` takes before counting. */
  readonly turnstile?: LockLayout;
}

/**
 * lockstep's own semaphore is one queue, `B/P/semaphores/N`; a native one has Curator's two
 * children of its path, `locks` (the turnstile) and `leases`.
 */
export function semaphoreLayout(base: string, semaphore: LockRef): SemaphoreLayout {
  const place = placeOf(base, semaphore, 'semaphores');
  if (!place.native) return { leases: place };
  const container = place.queue;
  return {
    turnstile: { queue: `${container}/locks`, native: true, container },
    leases: { queue: `${container}/leases`, native: true, container },
  };
}

/** The node of one primitive of `ref`: its native path, or lockstep's own under `kind`. */
function placeOf(base: string, ref: LockRef, kind: string): LockLayout {
  if (ref.native !== undefined) return { queue: base + nativePath(ref.native), native: true };
  return { queue: `${base}/${rootSegment(ref.prefixSegment)}/${kind}/${ref.segment}`, native: false };
}

/** A counter's node under `base`. */
export function counterPath(base: string, counter: ResourceRef): string {
  return `${base}/${rootSegment(counter.prefixSegment)}/counters/${counter.segment}`;
}

/**
 * The name a contender asks ZooKeeper for (the sequence is appended by the server):
 * `_c_<uuid>-lock-` (or another recipe's marker). The UUID is per create attempt, so a reply
 * lost with the connection can be found again by this prefix (ZOOKEEPER-1262).
 */
export function contenderPrefix(protectedId: string, marker: string = LOCK_NAME): string {
  return `${PROTECTED_PREFIX}${protectedId}-${marker}`;
}

/** A 32-hex-digit id (core's owner ids) written as a canonical UUID (8-4-4-4-12), the form Curator uses. */
export function asUuid(hex32: string): string {
  if (hex32.length !== 32) throw new InvalidArgumentError('ownerId', 'must be 32 hex digits');
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`;
}

/** Every ancestor of `path`, root first, `path` itself last: `/a/b` → `/a`, `/a/b`. */
export function ancestry(path: string): string[] {
  const parts = path.split('/').slice(1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

/** `path` joined with a child name. */
export function child(path: string, name: string): string {
  return `${path}/${name}`;
}

/** The last segment of a path. */
export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function rootSegment(prefixSegment: string): string {
  return prefixSegment === 'zookeeper' ? '%7Aookeeper' : prefixSegment;
}

/**
 * Checks a native location: an absolute ZooKeeper path, as given to Curator's recipes
 * (`new InterProcessMutex(client, path)`, `InterProcessSemaphoreV2`, `InterProcessReadWriteLock`,
 * `LeaderLatch`), relative to the URL's chroot as Curator's path is relative to its namespace.
 * @throws InvalidArgumentError for anything else.
 */
export function validateNativePath(native: NativeLockLocation): void {
  nativePath(native);
}

/**
 * Checks an absolute ZooKeeper path with ZooKeeper's own rules (`PathUtils.validatePath`):
 * starts with `/`, no empty, `.` or `..` segment, no trailing `/`, no control or
 * non-character code points.
 * @throws InvalidArgumentError
 */
export function validateZnodePath(path: string, what: string): string {
  if (path.length === 0 || path[0] !== '/') throw new InvalidArgumentError(what, 'must start with "/"');
  if (path === '/') throw new InvalidArgumentError(what, 'must not be the root "/"');
  if (path.endsWith('/')) throw new InvalidArgumentError(what, 'must not end with "/"');
  if (!path.isWellFormed()) throw new InvalidArgumentError(what, 'contains a lone UTF-16 surrogate');
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') throw new InvalidArgumentError(what, 'contains an empty segment ("//")');
    if (segment === '.' || segment === '..') throw new InvalidArgumentError(what, `contains "${segment}"`);
  }
  // ZooKeeper refuses these UTF-16 code units in paths (PathUtils.validatePath), surrogates
  // included: characters outside the Basic Multilingual Plane cannot appear in a znode path.
  for (let i = 0; i < path.length; i++) {
    if (isRefusedCodeUnit(path.charCodeAt(i))) {
      throw new InvalidArgumentError(what, 'contains a character ZooKeeper does not allow in paths');
    }
  }
  return path;
}

function isRefusedCodeUnit(c: number): boolean {
  return c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0;
}

function nativePath(native: NativeLockLocation): string {
  if (typeof native !== 'string') {
    throw new InvalidArgumentError(
      'native',
      `a ZooKeeper native location is a path string (as given to Curator's recipes), got ${typeof native}`,
    );
  }
  validateZnodePath(native, 'native');
  if (native === '/zookeeper' || native.startsWith('/zookeeper/')) {
    throw new InvalidArgumentError('native', 'must not be under /zookeeper (reserved by the server)');
  }
  const bytes = Buffer.byteLength(native);
  if (bytes > MAX_NATIVE_PATH_BYTES) {
    throw new InvalidArgumentError(
      'native',
      `is ${bytes} UTF-8 bytes; at most ${MAX_NATIVE_PATH_BYTES} allowed`,
    );
  }
  return native;
}
