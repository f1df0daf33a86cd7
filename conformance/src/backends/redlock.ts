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
import { hostList } from '../target.js';
import type { BackendProfile } from './profile.js';
import { floorLockCycle, redisPeers } from './redis.js';
import { provisionServerTarget } from './server.js';

/** Lease for the suite's lease tests (validity also loses 1% + 2 ms to drift). */
const REDLOCK_TTL_MS = 800;

/** `redlock://h1:p1,h2:p2` → one `redis://` URL per instance. */
function instanceUrls(url: string): string[] {
  return hostList(url).map(({ host, port }) => `redis://${host}:${port ?? 6379}`);
}

export const profile: BackendProfile = {
  name: 'redlock',
  adapterModule: '@lockstep/redis',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'redlock',
      kind: 'redis',
      nodes: 3,
      adapterModule: '@lockstep/redis',
      ttlMs: REDLOCK_TTL_MS,
    }),
  floor: {
    lockCycle: (url) => floorLockCycle(instanceUrls(url)),
  },
  peers: redisPeers(instanceUrls),
  interop: async () => [
    (await import('../interop/redis.js')).redlockQuorumScenario((target) => instanceUrls(target.url)),
  ],
};

export default profile;
