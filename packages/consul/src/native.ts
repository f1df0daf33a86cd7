/**
 * Sharing locks and semaphores with Consul's own recipes (hashicorp/consul `api/lock.go`, which
 * `consul lock` uses, and `api/semaphore.go`, which `consul lock -n N` uses): a lock lives at
 * `<prefix>/.lock`, acquired with a session; a semaphore keeps its `{ Limit, Holders }` at that same
 * `<prefix>/.lock` and a contender per session beside it. The two recipes flag `.lock` with the
 * values below, so that a lock and a semaphore at one prefix detect each other instead of
 * corrupting each other.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';
import type { KvEntry } from './json.js';

/** api/lock.go `LockFlagValue`: marks a key used as a lock. */
export const LOCK_FLAG_VALUE = 0x2ddccbc058a50c18n;
/** api/semaphore.go `SemaphoreFlagValue`: marks a semaphore's `.lock` key. */
export const SEMAPHORE_FLAG_VALUE = 0xe0f69a2baa414de0n;

/**
 * Refuses a native key that exists but is not a lock (api/lock.go answers `ErrLockConflict`,
 * "Existing key does not match lock use").
 * @throws InvalidArgumentError
 */
export function assertLockUse(entry: KvEntry | undefined): void {
  if (entry === undefined || entry.flags === LOCK_FLAG_VALUE) return;
  const what = entry.flags === SEMAPHORE_FLAG_VALUE ? 'a Consul semaphore' : `flags ${entry.flags}`;
  throw new InvalidArgumentError(
    'native',
    `the key ${JSON.stringify(entry.key)} is in use by ${what}, not by a lock (api/lock.go: ErrLockConflict)`,
  );
}

/**
 * Refuses a semaphore's `.lock` key that exists but is not a semaphore's (api/semaphore.go answers
 * `ErrSemaphoreConflict`, "Existing key does not match semaphore use"): a `consul lock` lock at the
 * same prefix, say.
 * @throws InvalidArgumentError
 */
export function assertSemaphoreUse(entry: KvEntry | undefined): void {
  if (entry === undefined || entry.flags === SEMAPHORE_FLAG_VALUE) return;
  const what = entry.flags === LOCK_FLAG_VALUE ? 'a Consul lock' : `flags ${entry.flags}`;
  throw new InvalidArgumentError(
    'native',
    `the key ${JSON.stringify(entry.key)} is in use by ${what}, not by a semaphore (api/semaphore.go: ErrSemaphoreConflict)`,
  );
}
