/**
 * redlock:// for `pnpm compare`: three independent redis-servers from @lockstep/testing
 * (`startCluster('redis', 3)`), or `--url redlock://h1:p1,h2:p2,h3:p3`.
 *
 * - `floor.lock.cycle`: `SET key owner NX PX 15000` on every instance in parallel (a
 *   quorum must answer OK), then EVALSHA compare-and-delete on every instance in parallel:
 *   two parallel rounds with raw ioredis clients, no validity arithmetic, no retries.
 * - No counter metrics: counters on redlock:// are `UnsupportedError` (no single value
 *   across independent instances).
 * - Peers across the same three instances, each contender with its own connections:
 *   `redlock4`, `redlock5` (`retryCount: -1`, default 200 ms ± 100 ms between attempts) and
 *   `redis-semaphore`'s `RedlockMutex` (default 10 ms retry interval).
 * @module
 */
import { hostList } from '@lockstep/conformance';
import { adapterEntry, type BackendProfile, provisionServerTarget } from '@lockstep/conformance/profile';
import { redisPeers } from './peers.js';
import { cleanupInstances, floorLockCycle, REDIS_TEST_TTL_MS, serverVersionAt } from './profile.js';

/** `redlock://h1:p1,h2:p2` → one `redis://` URL per instance. */
export function instanceUrls(url: string): string[] {
  return hostList(url).map(({ host, port }) => `redis://${host}:${port ?? 6379}`);
}

/** The redlock:// profile. */
export const redlockProfile: BackendProfile = {
  name: 'redlock',
  adapterModule: '@lockstep/redis',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'redlock',
      kind: 'redis',
      nodes: 3,
      adapterModule: adapterEntry('@lockstep/redis', import.meta.resolve),
      ttlMs: REDIS_TEST_TTL_MS,
    }),
  serverVersion: async (url) => {
    const versions = await Promise.all(instanceUrls(url).map(serverVersionAt));
    const distinct = [...new Set(versions)];
    return distinct.length === 1 ? `${distinct[0]} ×${versions.length}` : versions.join(', ');
  },
  cleanup: (url, prefix) => cleanupInstances(instanceUrls(url), prefix),
  floor: {
    lockCycle: ({ url, prefix }) => floorLockCycle(instanceUrls(url), prefix),
  },
  peers: redisPeers(instanceUrls),
  interop: async () => [
    (await import('./interop.js')).redlockQuorumScenario((target) => instanceUrls(target.url)),
  ],
};
