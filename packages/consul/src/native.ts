/**
 * Sharing locks with Consul's own lock recipe (hashicorp/consul `api/lock.go`, which `consul lock`
 * uses): the lock lives at `<prefix>/.lock`, is acquired with a session, and carries the flag value
 * below so that a lock and a semaphore (`api/semaphore.go`, other flags, same `.lock` key) at one
 * prefix detect each other instead of corrupting each other.
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
