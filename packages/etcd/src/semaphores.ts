/**
 * Semaphores: the lock's queue with a rule for N holders, after the rank-by-create-revision
 * recipe of Curator and etcd's recipes. Every permit asked for is one key under the semaphore's
 * queue, on the coordinator's lease (so a crashed holder's permit goes back with its lease), its
 * value the permits its client declared. A contender holds while the keys older than its own are
 * fewer than its count and than every count they declared (rule `smallest`: no client ever sees
 * more holders than it allowed, whatever the others declared).
 *
 * Round trips:
 * - acquire, try: ONE transaction that puts our key and reads the newest N keys older than it
 *   (N = our count, with their values): fewer than N and than each of their counts, and we hold.
 *   A try that does not hold deletes its key again (one more).
 * - wait: the N keys just ahead of ours are watched (for one permit, the key just ahead); the
 *   delete of one of them — the only thing that can let us in, since a key further ahead going
 *   leaves us N or more from the front — wakes us to ONE re-check, the same read guarded on our
 *   key's create revision. A release wakes at most N waiters, never the whole queue.
 * - release: ONE delete of our key.
 * @module
 */
import type { SemaphoreRef } from '@lockstep/core/driver';
import type { GrantContext } from './grant.js';
import { semaphoreQueue } from './keys.js';
import { EtcdQueues } from './locks.js';

/** The semaphores of one coordinator. */
export function etcdSemaphores(ctx: GrantContext): EtcdQueues<SemaphoreRef> {
  return new EtcdQueues<SemaphoreRef>(ctx, (semaphore) => {
    const layout = semaphoreQueue(semaphore);
    return { layout, holdsBack: layout.queue, permits: semaphore.permits };
  });
}
