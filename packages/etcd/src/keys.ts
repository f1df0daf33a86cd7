/**
 * Every etcd key lockstep touches, derived in this one place.
 *
 * Layout (`P` = encoded prefix, `N` = encoded name; encoded segments never contain `/`, so
 * `/` separates the parts unambiguously and the map is injective):
 *
 * | what | key |
 * |---|---|
 * | a lock's queue (every contender's key lives directly under it) | `P/locks/N/` |
 * | one contender (one key per acquire in flight, on the coordinator's lease for its TTL) | `P/locks/N/<lease hex>-<slot>` |
 * | a counter (the value as a decimal string) | `P/counters/N` |
 * | a semaphore's queue (each key holds the permits its client declared) | `P/semaphores/N/` |
 * | a read-write lock's readers and writers (one queue, two parts) | `P/rwlocks/N/read/`, `P/rwlocks/N/write/` |
 * | an election's candidates (each key holds its candidate's value) | `P/elections/N/` |
 *
 * Contenders of every queue are named `<lease hex>-<slot>` under it.
 *
 * A lock with a `native` location uses exactly the layout of etcd's `concurrency.Mutex` and
 * `etcdctl lock NATIVE`: the queue is `NATIVE/` and a contender's key is `NATIVE/<lease id in
 * lowercase hex>`, so one lease carries at most one contender of it. Both recipes order the
 * queue by create revision and let the oldest key hold, so they exclude each other. An election
 * with a `native` location is laid out the same way, which is `concurrency.Election`'s layout
 * and `etcdctl elect NATIVE`'s (the candidate's value is the key's value), so lockstep and Go
 * candidates stand in one election.
 *
 * When the coordinator was built over a namespaced etcd3 client (`etcd.namespace('app/')`),
 * the namespace is prepended to every key by the RPC layer, not here.
 * @module
 */
import { InvalidArgumentError, type NativeLockLocation } from '@lockstep/core';
import type { LockRef, ResourceRef } from '@lockstep/core/driver';

/** Longest native prefix accepted, in UTF-8 bytes (etcd's default request limit is 1.5 MiB; keys stay small). */
export const MAX_NATIVE_PREFIX_BYTES = 4096;

/** Where one acquire of a lock queues. */
export interface QueueLayout {
  /** The queue prefix: every contender's key starts with it, and nothing else does. */
  readonly queue: string;
  /** Whether contenders are named by their lease id alone (native). */
  readonly native: boolean;
}

/** The queue a lock's contenders share. */
export function lockQueue(lock: LockRef): QueueLayout {
  if (lock.native !== undefined) return { queue: `${nativePrefix(lock.native)}/`, native: true };
  return { queue: `${lock.prefixSegment}/locks/${lock.segment}/`, native: false };
}

/** A semaphore's queue. */
export function semaphoreQueue(semaphore: ResourceRef): QueueLayout {
  return { queue: `${semaphore.prefixSegment}/semaphores/${semaphore.segment}/`, native: false };
}

/** A read-write lock's whole queue: a writer waits for every key in it that is older than its own. */
export function readWriteQueue(lock: ResourceRef): string {
  return `${lock.prefixSegment}/rwlocks/${lock.segment}/`;
}

/** An election's candidates: lockstep's layout, or at a native prefix `concurrency.Election`'s. */
export function electionQueue(election: LockRef): QueueLayout {
  if (election.native !== undefined) return { queue: `${nativePrefix(election.native)}/`, native: true };
  return { queue: `${election.prefixSegment}/elections/${election.segment}/`, native: false };
}

/**
 * One contender's key: `queue + hex(leaseId) + '-' + slot` in lockstep's layout (unique among
 * the acquires in flight; the name is reused once its key is gone); `queue + hex(leaseId)` in
 * the native one (what `concurrency.Mutex` writes, so `etcdctl lock` sees the same queue).
 */
export function memberKey(layout: QueueLayout, leaseId: bigint, slot: number): string {
  return memberKeyHex(layout, leaseId.toString(16), slot);
}

/** {@link memberKey} with the lease id already in hex (a session keeps it so). */
export function memberKeyHex(layout: QueueLayout, leaseHex: string, slot: number): string {
  return layout.native ? layout.queue + leaseHex : `${layout.queue}${leaseHex}-${slot}`;
}

/** A counter's key. */
export function counterKey(counter: ResourceRef): string {
  return `${counter.prefixSegment}/counters/${counter.segment}`;
}

/**
 * Checks a native location: a non-empty string of well-formed Unicode (it becomes an etcd
 * key prefix exactly as `etcdctl lock` would use it; `/locks/reports` gives keys
 * `/locks/reports/<lease hex>`).
 * @throws InvalidArgumentError for anything else.
 */
export function validateNativePrefix(native: NativeLockLocation): void {
  nativePrefix(native);
}

function nativePrefix(native: NativeLockLocation): string {
  if (typeof native !== 'string') {
    throw new InvalidArgumentError(
      'native',
      `an etcd native lock location is a key prefix string (as given to etcdctl lock), got ${typeof native}`,
    );
  }
  if (native.length === 0) throw new InvalidArgumentError('native', 'must not be empty');
  if (!native.isWellFormed()) throw new InvalidArgumentError('native', 'contains a lone UTF-16 surrogate');
  if (native.includes('\0')) throw new InvalidArgumentError('native', 'must not contain NUL');
  const bytes = Buffer.byteLength(native);
  if (bytes > MAX_NATIVE_PREFIX_BYTES) {
    throw new InvalidArgumentError(
      'native',
      `is ${bytes} UTF-8 bytes; at most ${MAX_NATIVE_PREFIX_BYTES} allowed`,
    );
  }
  return native;
}

/**
 * The smallest key greater than every key starting with `prefix` (etcd's `range_end` for a
 * prefix range): the prefix with its last byte below 0xff incremented and the rest dropped.
 */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // Only 0xff bytes: every key from the prefix on (etcd's "\0" means "to the end").
  return Buffer.from([0]);
}
