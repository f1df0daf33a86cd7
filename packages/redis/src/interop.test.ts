/**
 * Interop on Redis: `lock(name, { native: KEY })` takes the lock exactly where
 * node-redlock (4.2.0 and 5.0.0-beta.2) and redis-semaphore's Mutex take theirs —
 * `SET KEY value NX PX ttl`, released by compare-and-delete — so each excludes the other,
 * both ways, while lockstep's fencing tokens (kept at `KEY:lockstep-fence`) keep increasing.
 */
import { randomBytes } from 'node:crypto';
import type { ConformanceTarget } from '@lockstep/conformance';
import { runInteropTest } from '@lockstep/conformance/vitest';
import { type Coordinator, connect, type LockHandle } from '@lockstep/core';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { delay, open, rawClient } from './test-support/helpers.js';
import { useRedisCluster, useRedisServer } from './test-support/servers.js';
import {
  REDIS_PEERS,
  REDIS_SEMAPHORE_INTEROP,
  redisPeerScenarios,
  redlockQuorumScenario,
} from './testing/index.js';

// The scenarios themselves live in this package's testing tools (src/testing/interop.ts), so that
// `pnpm compare` reports the very same checks as interop.redlock / interop.redis-semaphore.

const redis = useRedisServer();
const server = () => redis.handle;

/** The server as a conformance target (the scenarios open their clients through it). */
function targetOf(
  url: string,
  name: 'redis' | 'redlock',
  source: ConformanceTarget['source'],
): ConformanceTarget {
  return {
    name,
    source,
    url,
    adapterModule: '@lockstep/redis',
    connect: (override) => connect(override ?? url),
  };
}

const uniqueName = () => `report-${randomBytes(4).toString('hex')}`;

/** What {@link medianWakeLag} does with a peer: take its lock or permit (giving back a release), and wait for it in lockstep. */
interface SilentPeer {
  take(): Promise<() => Promise<unknown>>;
  wait(): Promise<LockHandle>;
}

/**
 * With keyspace events `classes` on: the median, over three rounds, of the time from a peer's
 * silent release (it publishes nothing) to the grant of the lockstep waiter queued behind it.
 */
async function medianWakeLag(
  classes: string,
  peerOf: (raw: Redis, coord: Coordinator, name: string) => Promise<SilentPeer>,
): Promise<number> {
  const raw = rawClient(server().url);
  await raw.config('SET', 'notify-keyspace-events', classes);
  try {
    const coord = await open(server().url);
    const peer = await peerOf(raw, coord, uniqueName());
    const lags: number[] = [];
    for (let round = 0; round < 3; round++) {
      const release = await peer.take();
      const waiting = peer.wait();
      await delay(150);
      const released = performance.now();
      await release();
      const held = await waiting;
      lags.push(performance.now() - released);
      await held.release();
    }
    return lags.sort((a, b) => a - b)[1]!;
  } finally {
    await raw.config('SET', 'notify-keyspace-events', '');
  }
}

describe.each(REDIS_PEERS)('$id ($library) on redis://', (peer) => {
  for (const scenario of redisPeerScenarios(peer)) {
    it(`${peer.id}: ${scenario.title}`, (context) =>
      runInteropTest(context, scenario, targetOf(server().url, 'redis', server().source)));
  }
});

describe('interop.redis-semaphore.semaphore (redis-semaphore@5 Semaphore) on redis://', () => {
  for (const scenario of REDIS_SEMAPHORE_INTEROP) {
    it(`${scenario.id}: ${scenario.title}`, (context) =>
      runInteropTest(context, scenario, targetOf(server().url, 'redis', server().source)));
  }
});

describe('native Redis keys', () => {
  it("wake lockstep waiters on a peer's silent release when the server publishes keyspace events", async () => {
    const peer = REDIS_PEERS.find((p) => p.id === 'interop.redis-semaphore')!;
    const lag = await medianWakeLag('Kgx', async (raw, coord, name) => ({
      take: async () => (await peer.tryLock(raw, name, 30_000))!,
      wait: () => coord.lock('x', { native: peer.key(name) }).acquire({ waitMs: 10_000 }),
    }));
    expect(lag).toBeLessThan(100); // core's fallback re-check alone takes 200 ms or more
  });

  it("wake a lockstep semaphore waiter on redis-semaphore's silent release when the server publishes a sorted set's events", async () => {
    const { Semaphore } = await import('redis-semaphore');
    const lag = await medianWakeLag('Kz', async (raw, coord, name) => {
      const peer = new Semaphore(raw, name, 1, { lockTimeout: 30_000, acquireTimeout: 50 });
      return {
        take: async () => {
          expect(await peer.tryAcquire()).toBe(true);
          return () => peer.release();
        },
        wait: () =>
          coord
            .semaphore('x', { native: `semaphore:${name}`, permits: 1, ttlMs: 30_000 })
            .acquire({ waitMs: 10_000 }),
      };
    });
    expect(lag).toBeLessThan(100); // core's fallback re-check alone takes 200 ms or more
  });

  it('are validated before any I/O', async () => {
    const { InvalidArgumentError } = await import('@lockstep/core');
    const coord = await open(server().url);
    expect(() => coord.lock('x', { native: 42n })).toThrow(InvalidArgumentError);
    expect(() => coord.lock('x', { native: [1, 2] })).toThrow(InvalidArgumentError);
    expect(() => coord.lock('x', { native: '' })).toThrow(InvalidArgumentError);
    expect(() => coord.lock('x', { native: 'k'.repeat(2_000) })).toThrow(InvalidArgumentError);
  });
});

describe('interop.redlock over three instances (redlock:// and redlock@5.0.0-beta.2)', () => {
  const cluster = useRedisCluster(3);
  const scenario = redlockQuorumScenario(() => cluster.handle.nodes.map((node) => node.url));

  it(`interop.redlock: ${scenario.title}`, (context) =>
    runInteropTest(
      context,
      scenario,
      targetOf(cluster.handle.url, 'redlock', cluster.handle.nodes[0]!.source),
    ));
});
