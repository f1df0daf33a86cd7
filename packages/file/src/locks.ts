/**
 * Locks among processes of one host, as leases in files.
 *
 * A lock file holds one record: the owner's id and pid, the fencing token of the latest
 * grant, and the lease deadline on the host's monotonic clock. Every decision — is it
 * free, is the lease over, is the holder's process dead, is it still mine — is taken
 * inside a flock critical section (flock.ts) together with the write that acts on it.
 *
 * - Acquire: free, expired, or held by a dead process → write us in with token + 1.
 *   One critical section, no waiting inside it.
 * - A SIGKILLed holder frees the lock as soon as a waiter sees its pid gone (no need to wait
 *   for its lease); a SIGSTOPped one keeps it until its lease ends, then loses it to a grant
 *   with a larger token, and its own next renewal finds another owner.
 * - Release and renewal change the record only if we are still its owner.
 * - Waiters are woken by fs.watch on the locks directory (every release rewrites the file);
 *   expiries and deaths write nothing, so core's bounded re-check covers them.
 * @module
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename } from 'node:path';
import type { AcquireRequest, LeaseGrant, LockDriver, ResourceRef } from '@lockstep/core';
import { ReleaseHub } from '@lockstep/core';
import { monotonicNowMs, processAlive } from './clock.js';
import { withFileLock } from './flock.js';
import type { Layout } from './layout.js';
import { readRecord, writeRecord } from './record.js';

/** What a lock file says. Tokens are decimal strings (bigint-safe JSON). */
interface LockRecord {
  readonly name: string;
  readonly token: string;
  readonly owner: string | null;
  readonly pid: number;
  readonly deadline: number;
}

function isHeldBySomeoneElse(record: LockRecord | undefined, owner: string, now: number): boolean {
  if (!record?.owner || record.owner === owner) return false;
  return record.deadline > now && processAlive(record.pid);
}

/** The lock driver over one layout. */
export class FileLocks implements LockDriver {
  readonly #layout: Layout;
  readonly #hub: ReleaseHub;
  #watcher: FSWatcher | undefined;

  constructor(layout: Layout) {
    this.#layout = layout;
    this.#hub = new ReleaseHub({
      onActive: () => this.#startWatching(),
      onIdle: () => {
        if (this.#hub.activeKeys().length === 0) this.#stopWatching();
      },
    });
  }

  async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
    const path = this.#layout.lockFile(request.lock);
    const token = await withFileLock(path, (fd) => {
      const record = readRecord<LockRecord>(fd);
      const now = monotonicNowMs();
      if (isHeldBySomeoneElse(record, request.ownerId, now)) return undefined;
      const next = BigInt(record?.token ?? '0') + 1n;
      writeRecord(fd, {
        name: request.lock.name,
        token: next.toString(),
        owner: request.ownerId,
        pid: process.pid,
        deadline: now + request.ttlMs,
      } satisfies LockRecord);
      return next;
    });
    return token === undefined ? null : this.#grant(path, request.ownerId, token);
  }

  watch(lock: ResourceRef) {
    return this.#hub.watch(basename(this.#layout.lockFile(lock)));
  }

  close(): void {
    this.#stopWatching();
  }

  #grant(path: string, owner: string, fencingToken: bigint): LeaseGrant {
    const mine = (record: LockRecord | undefined) => record?.owner === owner;
    return {
      fencingToken,
      renew: (ttlMs) =>
        withFileLock(path, (fd) => {
          const record = readRecord<LockRecord>(fd);
          if (!mine(record) || !record) return false;
          writeRecord(fd, { ...record, deadline: monotonicNowMs() + ttlMs });
          return true;
        }),
      release: () =>
        withFileLock(path, (fd) => {
          const record = readRecord<LockRecord>(fd);
          if (!mine(record) || !record) return false;
          // Keep the token: the next grant must get a larger one.
          writeRecord(fd, { ...record, owner: null, deadline: 0 });
          return true;
        }),
      isHeld: () =>
        withFileLock(path, (fd) => {
          const record = readRecord<LockRecord>(fd);
          return mine(record) && (record?.deadline ?? 0) > monotonicNowMs();
        }),
    };
  }

  #startWatching(): void {
    if (this.#watcher) return;
    this.#watcher = watch(this.#layout.locksDir, { persistent: false }, (_event, file) => {
      if (file) this.#hub.notify(file.toString());
      else this.#hub.notifyAll();
    });
    this.#watcher.on('error', () => this.#hub.notifyAll());
  }

  #stopWatching(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
