/**
 * Locks on one Redis server (`redis://`, `rediss://`).
 *
 * Round trips: acquire 1 (ACQUIRE_FENCED: SET + fencing token, or the holder's PTTL), release
 * 1 (RELEASE: compare-and-delete + PUBLISH), isHeld 1 (GET); renewals 1 per window for all the
 * locks due in it (EXTEND_MANY, see `batch.ts`).
 *
 * Handoff: a refused attempt registers this coordinator in the lock's waiters hash; a
 * release that finds other coordinators registered reserves the key for them for a short
 * window instead of deleting it, so a woken waiter — not the releaser coming straight
 * back — gets the lock. When the last local waiter on a lock stops waiting, the
 * registration is withdrawn (fire-and-forget; it also expires by itself).
 *
 * Inspection tells the holder (owner, token, lease left) in one script; it cannot count
 * waiters — they are not queued, only their coordinators register — and a native key's holder
 * may be another library's, so its token is not told.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { AcquireRequest, LeaseGrant, LockDriver, LockRef } from '@lockstep/core/driver';
import type { KeyBatch } from './batch.js';
import { answer } from './errors.js';
import { monitoredGrant } from './grant.js';
import { cachedLockKeys, type LockKeys, validateNativeKey } from './keys.js';
import type { LossMonitor } from './loss-monitor.js';
import type { ReleaseFeed } from './release-feed.js';
import { ACQUIRE_FENCED, LOCK_INSPECT, RELEASE } from './scripts.js';

/**
 * How long a waiter's registration lives without being refreshed. Waiters refresh it on
 * every attempt, and core re-checks at least every ~2.4 s, so this only ever expires for a
 * waiter that died without withdrawing it.
 */
export const WAITER_REGISTRATION_MS = 5_000;

const isOne = (reply: unknown) => Number(reply) === 1;

/** The lock half of the single-instance driver, and the hook its release feed calls. */
export function singleInstanceLocks(
  batch: KeyBatch,
  feed: ReleaseFeed,
  monitor: LossMonitor,
  handoffMs: number,
): LockDriver & { waitEnded(channel: string): void } {
  const { client } = batch;
  /** Identifies this coordinator in waiters hashes and handoff reservations. */
  const coordinatorId = randomBytes(8).toString('hex');
  /** channel → waiters hash, for locks this coordinator registered as waiting for. */
  const registered = new Map<string, string>();
  const handoffFor = (keys: LockKeys) => (keys.waiters === undefined ? '0' : String(handoffMs));

  function grantFor(keys: LockKeys, owner: string, fencingToken: bigint): LeaseGrant {
    const releaseKeys = [keys.lock, keys.waiters ?? keys.lock];
    const releaseArgs = [owner, keys.channel, coordinatorId, handoffFor(keys)];
    return monitoredGrant(
      {
        extend: (ttlMs, urgent) => answer(batch.extend(keys.lock, owner, ttlMs, urgent), 'extend', Boolean),
        release: () => answer(RELEASE.run(client, releaseKeys, releaseArgs), 'release', isOne),
        isHeld: () => answer(client.get(keys.lock), 'isHeld', (value) => value === owner),
      },
      monitor,
      { key: keys.lock, owner, fencingToken },
    );
  }

  return {
    tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
      const keys = cachedLockKeys(request.lock);
      const { ownerId, ttlMs } = request;
      // Only waiters register (a lone tryAcquire() that fails is not waiting for anything).
      const waiting = handoffMs > 0 && keys.waiters !== undefined && feed.isWatched(keys.channel);
      const registration = waiting ? WAITER_REGISTRATION_MS : 0;
      const reply = ACQUIRE_FENCED.run(
        client,
        [keys.lock, keys.fence, keys.waiters ?? keys.fence],
        [ownerId, ttlMs, coordinatorId, registration],
      );
      return answer(reply, 'acquire', (result) => {
        const [acquired, detail] = result as [number, number | string];
        if (Number(acquired) === 1) return grantFor(keys, ownerId, BigInt(detail));
        if (registration > 0) registered.set(keys.channel, keys.waiters!);
        feed.holderLeaseEndsIn(keys.channel, Number(detail));
        return null;
      });
    },
    watch: (lock: LockRef) => feed.watch(cachedLockKeys(lock)),
    async inspect(lock: LockRef) {
      const keys = cachedLockKeys(lock);
      const [owner, leftMs, token] = await answer(
        LOCK_INSPECT.run(client, [keys.lock, keys.fence], []),
        'inspect',
        (reply) => reply as [string, number, string],
      );
      // A handoff reservation is nobody's lock.
      const native = keys.waiters === undefined;
      if (owner === '' || (!native && owner.startsWith('handoff:'))) return { holders: [] };
      return {
        holders: [
          {
            owner,
            ...(native || token === '' ? {} : { fencingToken: BigInt(token) }),
            ...(Number(leftMs) >= 0 ? { leftMs: Number(leftMs) } : {}),
          },
        ],
      };
    },
    validateNative: validateNativeKey,
    waitEnded(channel: string) {
      const waiters = registered.get(channel);
      if (waiters === undefined) return;
      registered.delete(channel);
      client.hdel(waiters, coordinatorId).catch(() => {});
    },
  };
}
