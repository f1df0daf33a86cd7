/**
 * Read-write locks in the layout of etcd's recipes `RWMutex`: one queue per lock with a part for
 * readers and a part for writers, every contender one key on its coordinator's lease, ordered by
 * create revision across both parts. A reader holds once no writer older than it is left — it
 * waits only for earlier writers, so readers that come after a waiting writer queue behind it
 * (writer progress `queued`: a stream of readers cannot starve a writer); a writer holds once
 * nobody older than it is left.
 *
 * Round trips (those of a lock, judged over a different part of the queue):
 * - acquire: ONE transaction that puts our key if nobody we wait for is in the queue; otherwise
 *   ONE that puts it and reads the newest of them older than ours, which we then watch (a reader
 *   the writer just ahead, a writer whichever key is just ahead) and re-check when it goes.
 * - try: that first transaction alone; release: ONE delete.
 * @module
 */
import type { ReadWriteRef } from '@lockstep/core/driver';
import type { GrantContext } from './grant.js';
import { readWriteQueue } from './keys.js';
import { EtcdQueues } from './locks.js';

/** The read-write locks of one coordinator. */
export function etcdReadWriteLocks(ctx: GrantContext): EtcdQueues<ReadWriteRef> {
  return new EtcdQueues<ReadWriteRef>(ctx, (lock) => {
    const queue = readWriteQueue(lock);
    return {
      layout: { queue: `${queue}${lock.mode}/`, native: false },
      holdsBack: lock.mode === 'read' ? `${queue}write/` : queue,
    };
  });
}
