/**
 * Locks on one Redis server (`redis://`, `rediss://`).
 *
 * Round trips: acquire 1 (ACQUIRE_FENCED: SET NX PX + fencing token, or the holder's PTTL),
 * renew 1 (EXTEND), release 1 (RELEASE: compare-and-delete + PUBLISH), isHeld 1 (GET).
 * @module
 */
import type { AcquireRequest, LeaseGrant, LockDriver, LockRef } from '@lockstep/core';
import type { Redis } from 'ioredis';
import { mapErrors } from './errors.js';
import { monitoredGrant } from './grant.js';
import { type LockKeys, lockKeys, validateNativeKey } from './keys.js';
import type { LossMonitor } from './loss-monitor.js';
import type { ReleaseFeed } from './release-feed.js';
import { ACQUIRE_FENCED, EXTEND, RELEASE } from './scripts.js';

/** The lock half of the single-instance driver. */
export function singleInstanceLocks(client: Redis, feed: ReleaseFeed, monitor: LossMonitor): LockDriver {
  const run = <T>(doing: string, op: () => Promise<T>) => mapErrors('redis', doing, op);

  function grantFor(keys: LockKeys, owner: string, fencingToken: bigint): LeaseGrant {
    const isHeld = async () => (await run('isHeld', () => client.get(keys.lock))) === owner;
    return monitoredGrant(
      {
        extend: async (ttlMs) =>
          Number(await run('extend', () => EXTEND.run(client, [keys.lock], [owner, ttlMs]))) === 1,
        release: async () =>
          Number(await run('release', () => RELEASE.run(client, [keys.lock], [owner, keys.channel]))) === 1,
        isHeld,
      },
      monitor,
      { fencingToken },
    );
  }

  return {
    async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
      const keys = lockKeys(request.lock);
      const reply = (await run('acquire', () =>
        ACQUIRE_FENCED.run(client, [keys.lock, keys.fence], [request.ownerId, request.ttlMs]),
      )) as [number, string | number];
      if (Number(reply[0]) === 1) return grantFor(keys, request.ownerId, BigInt(reply[1]));
      feed.holderLeaseEndsIn(keys.channel, Number(reply[1]));
      return null;
    },
    watch: (lock: LockRef) => feed.watch(lockKeys(lock)),
    validateNative: validateNativeKey,
  };
}
