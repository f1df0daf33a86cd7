/**
 * redis:// for `pnpm compare`: one redis-server from @lockstep/testing (or `--url`).
 *
 * Floors, with a raw ioredis client and none of lockstep's machinery:
 * - `floor.lock.cycle`: `SET key owner NX PX 15000`, then `EVALSHA` of a compare-and-delete
 *   script loaded in setup — two round trips, a fresh random owner id per cycle. The least a
 *   safe Redis lock can do: no fencing token, no renewal timer, no release notification.
 *   lockstep's `lock.cycle` does the same two round trips but also issues a fencing token
 *   (INCR in the acquire script), publishes the release and runs its lease machinery.
 * - `floor.counter.increment`: `INCR`.
 * - `naive.counter.throughput64`: one `INCR` per call. The 64 callers share one connection,
 *   which ioredis pipelines — a strong baseline, not a straw man. (`INCR` has no bounds;
 *   lockstep's counter is measured unbounded too.)
 *
 * Peers: see `peers.ts`. Everything a run writes starts with its prefix: lockstep's keys with
 * the prefix's encoded segment, the floors', peers' and scenarios' keys with the prefix itself
 * (redis-semaphore's behind its `mutex:` and `semaphore:`), so cleanup deletes by those four
 * prefixes.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  adapterEntry,
  type BackendProfile,
  type BenchSubject,
  provisionServerTarget,
  scopedName,
} from '@lockstep/conformance/profile';
import { encodeName } from '@lockstep/core/driver';
import { redisSemaphoreKey, redisSemaphoreSetKey } from './libraries.js';
import { CYCLE_TTL_MS, disconnectAll, redisPeers } from './peers.js';
import { deleteByPrefix, rawClient, redisVersion } from './raw.js';

/** Lease for the suite's lease tests. Renewal runs at a third of it; 800 ms tolerates a busy machine. */
export const REDIS_TEST_TTL_MS = 800;

const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const COMPARE_AND_DELETE_SHA = createHash('sha1').update(COMPARE_AND_DELETE).digest('hex');

const ownerId = () => randomBytes(16).toString('hex');

/** `SET NX PX` + EVALSHA compare-and-delete on each of `urls` in parallel, quorum required. */
export async function floorLockCycle(urls: readonly string[], prefix: string): Promise<BenchSubject> {
  const clients = await Promise.all(urls.map(rawClient));
  const key = scopedName(prefix, 'floor-cycle');
  const quorum = Math.floor(clients.length / 2) + 1;
  return {
    setup: async () => {
      await Promise.all(clients.map((c) => c.script('LOAD', COMPARE_AND_DELETE)));
    },
    op: async () => {
      const owner = ownerId();
      const set = await Promise.all(clients.map((c) => c.set(key, owner, 'PX', CYCLE_TTL_MS, 'NX')));
      if (set.filter((r) => r === 'OK').length < quorum) throw new Error('floor lock unexpectedly held');
      await Promise.all(clients.map((c) => c.evalsha(COMPARE_AND_DELETE_SHA, 1, key, owner)));
    },
    teardown: async () => disconnectAll(clients),
  };
}

/** Deletes everything a run under `prefix` wrote on each of `urls`. */
export async function cleanupInstances(urls: readonly string[], prefix: string): Promise<void> {
  const prefixes = [
    `${encodeName(prefix)}/`,
    `${prefix}/`,
    redisSemaphoreKey(`${prefix}/`),
    redisSemaphoreSetKey(`${prefix}/`),
  ];
  await Promise.all(
    urls.map(async (url) => {
      const client = await rawClient(url);
      try {
        await deleteByPrefix(client, prefixes);
      } finally {
        client.disconnect();
      }
    }),
  );
}

/** The version of the server at `url`. */
export async function serverVersionAt(url: string): Promise<string> {
  const client = await rawClient(url);
  try {
    return await redisVersion(client);
  } finally {
    client.disconnect();
  }
}

/** One raw client and an `INCR` per call. */
async function incrSubject({ url, prefix }: { url: string; prefix: string }): Promise<BenchSubject> {
  const client = await rawClient(url);
  const key = scopedName(prefix, 'floor-counter');
  return {
    op: async () => {
      await client.incr(key);
    },
    teardown: async () => client.disconnect(),
  };
}

/** The redis:// profile. */
export const redisProfile: BackendProfile = {
  name: 'redis',
  adapterModule: '@lockstep/redis',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'redis',
      kind: 'redis',
      adapterModule: adapterEntry('@lockstep/redis', import.meta.resolve),
      ttlMs: REDIS_TEST_TTL_MS,
    }),
  serverVersion: serverVersionAt,
  cleanup: (url, prefix) => cleanupInstances([url], prefix),
  floor: {
    lockCycle: ({ url, prefix }) => floorLockCycle([url], prefix),
    counterIncrement: incrSubject,
  },
  naive: {
    counterThroughput64: incrSubject,
  },
  peers: redisPeers((url) => [url]),
  interop: async () => (await import('./interop.js')).REDIS_INTEROP,
};
