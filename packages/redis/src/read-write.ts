/**
 * Read-write locks on one Redis server (`redis://`, `rediss://`): a queued lease (`queued.ts`)
 * where a writer declares a count of 1 and a reader {@link READER_CLAIM}. By the queue's rule —
 * a request gets in while the holders and the waiters ahead of it are fewer than the smallest
 * count declared by any of them — readers share, a writer holds alone, and a reader that comes
 * after a waiting writer waits behind it, so a stream of readers cannot starve a writer.
 *
 * Every reader is an entry of its own with its own lease and fencing token (one counter for
 * both sides): a reader that stops renewing is dropped when its own lease ends, however many
 * other readers keep renewing theirs.
 * @module
 */
import type { LockDriver, ReadWriteRef } from '@lockstep/core/driver';
import type { KeyBatch } from './batch.js';
import { cachedReadWriteKeys } from './keys.js';
import type { LossMonitor } from './loss-monitor.js';
import { QUEUE_SCRIPTS, READER_CLAIM } from './queue-scripts.js';
import { queuedLeases } from './queued.js';
import type { ReleaseFeed } from './release-feed.js';

/** The read-write half of the single-instance driver. */
export function singleInstanceReadWriteLocks(
  batch: KeyBatch,
  feed: ReleaseFeed,
  monitor: LossMonitor,
): LockDriver<ReadWriteRef> {
  return queuedLeases<ReadWriteRef>(batch, feed, monitor, {
    keysOf: cachedReadWriteKeys,
    declared: (ref) => (ref.mode === 'write' ? 1 : READER_CLAIM),
    scripts: QUEUE_SCRIPTS,
  });
}
