/**
 * Semaphores on one Redis server (`redis://`, `rediss://`).
 *
 * Round trips: tryAcquire 1 (SEM_ACQUIRE: drop dead holders and lapsed waiters, count, admit
 * with a fencing token — or refuse), release 1 (SEM_RELEASE: remove our entry, PUBLISH the
 * ids of the waiters that now fit), isHeld 1; renewals 1 per window for every lock and permit
 * due in it (`batch.ts`).
 *
 * Waiting is a queue on the server: a waiter's first attempt takes a place in it, and a free
 * permit goes to the head, so the releaser cannot take its permit straight back past the
 * waiters. A waiter sleeps until a wake-up names it, until the holders' leases alone would
 * let it in (an expiry publishes nothing), or until core's doubling fallback re-check — each
 * re-check also renews its place. A wait that ends without a permit leaves the queue
 * (SEM_WITHDRAW), passing its wake-up on.
 *
 * At a native location (redis-semaphore's sorted set) there is no queue: it is try-then-wait
 * on the lock's release feed and the key's keyspace events, re-checking when the oldest
 * entry's lease ends.
 * @module
 */
import {
  type AcquireRequest,
  type LeaseGrant,
  type LockDriver,
  type QueuePosition,
  type SemaphoreRef,
  waitInQueue,
} from '@lockstep/core/driver';
import type { KeyBatch } from './batch.js';
import { answer } from './errors.js';
import { monitoredGrant } from './grant.js';
import { cachedSemaphoreKeys, type SemaphoreKeys, validateNativeKey } from './keys.js';
import { WAITER_REGISTRATION_MS } from './locks.js';
import type { LossMonitor } from './loss-monitor.js';
import type { ReleaseFeed } from './release-feed.js';
import {
  NATIVE_SEM_ACQUIRE,
  NATIVE_SEM_RELEASE,
  PERMITS_HELD,
  SEM_ACQUIRE,
  SEM_RELEASE,
  SEM_WITHDRAW,
} from './semaphore-scripts.js';

/** One attempt's outcome: a permit, or in how many ms the holders' leases alone would let it in. */
type Attempt = { readonly grant: LeaseGrant } | { readonly retryInMs: number };

const GRANTED: QueuePosition<number> = { kind: 'granted' };
const isOne = (reply: unknown) => Number(reply) === 1;

/** The four sorted sets a queued script declares, in its KEYS order. */
function queuedKeys(keys: SemaphoreKeys): string[] {
  const { limits, queue, waiting } = keys.queued!;
  return [keys.holders, limits, queue, waiting];
}

/** The semaphore half of the single-instance driver. */
export function singleInstanceSemaphores(
  batch: KeyBatch,
  feed: ReleaseFeed,
  monitor: LossMonitor,
): LockDriver<SemaphoreRef> {
  const { client } = batch;

  function grantFor(
    keys: SemaphoreKeys,
    request: AcquireRequest<SemaphoreRef>,
    fencingToken: bigint,
    sentAt: number,
  ): LeaseGrant {
    const { ownerId: owner, ttlMs } = request;
    // A native entry is scored by the time of its last refresh and judged by the lease every
    // client of the key uses; ours by its deadline.
    const windowMs = keys.queued ? 0 : ttlMs;
    const release = keys.queued
      ? () => SEM_RELEASE.run(client, queuedKeys(keys), [owner, keys.channel, request.lock.permits])
      : () => NATIVE_SEM_RELEASE.run(client, [keys.holders], [owner, windowMs, keys.channel]);
    return monitoredGrant(
      {
        extend: (ttl, urgent) =>
          answer(batch.extendPermit(keys.holders, owner, ttl, windowMs, urgent), 'extend', Boolean),
        release: () => answer(release(), 'release', isOne),
        isHeld: () =>
          answer(PERMITS_HELD.run(client, [keys.holders], [owner, windowMs]), 'isHeld', (held) =>
            isOne((held as unknown[])[0]),
          ),
      },
      monitor,
      { key: keys.holders, owner, windowMs, fencingToken, validUntil: sentAt + ttlMs },
    );
  }

  /** One attempt; `registrationMs` > 0 takes (or keeps) a place in the queue when refused. */
  function attempt(
    keys: SemaphoreKeys,
    request: AcquireRequest<SemaphoreRef>,
    registrationMs: number,
  ): Promise<Attempt> {
    const { ownerId, ttlMs } = request;
    const { permits } = request.lock;
    const sentAt = performance.now();
    const reply = keys.queued
      ? SEM_ACQUIRE.run(
          client,
          [...queuedKeys(keys), keys.fence],
          [ownerId, ttlMs, permits, registrationMs, keys.channel],
        )
      : NATIVE_SEM_ACQUIRE.run(client, [keys.holders, keys.fence], [ownerId, ttlMs, permits]);
    return answer(reply, 'acquire', (result): Attempt => {
      const [acquired, detail] = result as [number, number | string];
      if (Number(acquired) === 1) return { grant: grantFor(keys, request, BigInt(detail), sentAt) };
      const ms = Number(detail);
      return { retryInMs: ms < 0 ? Number.POSITIVE_INFINITY : ms };
    });
  }

  function withdraw(keys: SemaphoreKeys, request: AcquireRequest<SemaphoreRef>): Promise<unknown> {
    return SEM_WITHDRAW.run(client, queuedKeys(keys), [request.ownerId, keys.channel, request.lock.permits]);
  }

  return {
    tryAcquire(request) {
      const keys = cachedSemaphoreKeys(request.lock);
      return attempt(keys, request, 0).then((outcome) => ('grant' in outcome ? outcome.grant : null));
    },

    async acquire(request, signal) {
      const keys = cachedSemaphoreKeys(request.lock);
      // Opened before the first attempt, so no wake-up can slip between it and the wait.
      const watch = keys.queued ? feed.watchNamed(keys, request.ownerId) : feed.watch(keys);
      let grant: LeaseGrant | undefined;
      let kept = false;
      const attemptNow = () =>
        attempt(keys, request, WAITER_REGISTRATION_MS).then((outcome): QueuePosition<number> => {
          if ('grant' in outcome) {
            grant = outcome.grant;
            return GRANTED;
          }
          return { kind: 'waiting', wait: outcome.retryInMs };
        });
      try {
        await waitInQueue(
          {
            next: async (retryInMs, fallbackMs, stop) => {
              // +1 ms: the server drops an entry once its deadline has passed; arrive just after.
              const bound = Math.min(fallbackMs, retryInMs + 1);
              const began = performance.now();
              await watch.next(bound, stop);
              // A wake-up ends the wait before the bound; the timer at it or after.
              const woke = performance.now() - began < bound;
              if (stop.aborted) return { next: { kind: 'waiting', wait: retryInMs }, woke };
              return { next: await attemptNow(), woke };
            },
          },
          await attemptNow(),
          signal,
        );
        kept = true;
        return grant!;
      } catch (error) {
        // A permit that raced the abort is given back; a place in the queue is left.
        if (grant) await grant.release().catch(() => {});
        else if (keys.queued) await withdraw(keys, request).catch(() => {});
        throw error;
      } finally {
        watch.close(kept);
      }
    },

    validateNative: validateNativeKey,
  };
}
