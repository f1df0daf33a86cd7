/**
 * Semaphores on one Redis server (`redis://`, `rediss://`).
 *
 * Lockstep's own semaphores are queued leases (`queued.ts`): a permit declares the semaphore's
 * count, and the `smallest` rule admits a permit only while the holders are fewer than the
 * smallest count declared by it, every holder and every waiter ahead of it.
 *
 * At a native location (redis-semaphore's sorted set) there is no queue: it is try-then-wait
 * on the lock's release feed and the key's keyspace events, re-checking when the oldest
 * entry's lease ends. Round trips: tryAcquire 1 (NATIVE_SEM_ACQUIRE), release 1, isHeld 1.
 * @module
 */
import { UnsupportedError } from '@lockstep/core';
import type { AcquireRequest, LeaseGrant, LockDriver, SemaphoreRef } from '@lockstep/core/driver';
import type { KeyBatch } from './batch.js';
import { answer } from './errors.js';
import { monitoredGrant } from './grant.js';
import { cachedSemaphoreKeys, type QueuedKeys, type SemaphoreKeys, validateNativeKey } from './keys.js';
import type { LossMonitor } from './loss-monitor.js';
import { PERMITS_HELD, QUEUE_SCRIPTS } from './queue-scripts.js';
import { type Attempt, queuedLeases, readAttempt, waitForGrant } from './queued.js';
import type { ReleaseFeed } from './release-feed.js';
import { NATIVE_SEM_ACQUIRE, NATIVE_SEM_RELEASE } from './semaphore-scripts.js';

const isOne = (reply: unknown) => Number(reply) === 1;

/** The semaphore half of the single-instance driver. */
export function singleInstanceSemaphores(
  batch: KeyBatch,
  feed: ReleaseFeed,
  monitor: LossMonitor,
): LockDriver<SemaphoreRef> {
  const { client } = batch;
  const queued = queuedLeases<SemaphoreRef>(batch, feed, monitor, {
    keysOf: (ref) => cachedSemaphoreKeys(ref) as QueuedKeys,
    declared: (ref) => ref.permits,
    scripts: QUEUE_SCRIPTS,
  });

  /** A native permit: its entry is scored by its last refresh and judged by the lease every client of the key uses. */
  function nativeGrant(
    keys: SemaphoreKeys,
    request: AcquireRequest<SemaphoreRef>,
    fencingToken: bigint,
    sentAt: number,
  ): LeaseGrant {
    const { ownerId: owner, ttlMs: windowMs } = request;
    return monitoredGrant(
      {
        extend: (ttl, urgent) =>
          answer(batch.extendPermit(keys.holders, owner, ttl, windowMs, urgent), 'extend', Boolean),
        release: () =>
          answer(
            NATIVE_SEM_RELEASE.run(client, [keys.holders], [owner, windowMs, keys.channel]),
            'release',
            isOne,
          ),
        isHeld: () =>
          answer(PERMITS_HELD.run(client, [keys.holders], [owner, windowMs]), 'isHeld', (held) =>
            isOne((held as unknown[])[0]),
          ),
      },
      monitor,
      { key: keys.holders, owner, windowMs, fencingToken, validUntil: sentAt + windowMs },
    );
  }

  function nativeAttempt(keys: SemaphoreKeys, request: AcquireRequest<SemaphoreRef>): Promise<Attempt> {
    const { ownerId, ttlMs } = request;
    const sentAt = performance.now();
    const reply = NATIVE_SEM_ACQUIRE.run(
      client,
      [keys.holders, keys.fence],
      [ownerId, ttlMs, request.lock.permits],
    );
    return answer(reply, 'acquire', (result) =>
      readAttempt(result, (token) => nativeGrant(keys, request, token, sentAt)),
    );
  }

  return {
    tryAcquire(request) {
      const keys = cachedSemaphoreKeys(request.lock);
      if (keys.queued) return queued.tryAcquire(request);
      return nativeAttempt(keys, request).then((outcome) => ('grant' in outcome ? outcome.grant : null));
    },

    acquire(request, signal) {
      const keys = cachedSemaphoreKeys(request.lock);
      if (keys.queued) return queued.acquire(request, signal);
      return waitForGrant(
        feed.watch(keys),
        () => nativeAttempt(keys, request),
        signal,
        async () => {},
      );
    },

    inspect(ref) {
      if (cachedSemaphoreKeys(ref).queued) return queued.inspect(ref);
      // redis-semaphore scores an entry by its last refresh: without the lease its clients use,
      // nobody can tell a live holder from one that stopped.
      return Promise.reject(
        new UnsupportedError(
          'redis',
          'inspecting native semaphores',
          "an entry's lease is known only to the clients of the key",
        ),
      );
    },

    validateNative: validateNativeKey,
  };
}
