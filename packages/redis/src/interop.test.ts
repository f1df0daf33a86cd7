/**
 * Interop on Redis: `lock(name, { native: KEY })` takes the lock exactly where
 * node-redlock (4.2.0 and 5.0.0-beta.2) and redis-semaphore's Mutex take theirs —
 * `SET KEY value NX PX ttl`, released by compare-and-delete — so each excludes the other,
 * both ways, while lockstep's fencing tokens (kept at `KEY:lockstep-fence`) keep increasing.
 */
import { randomBytes } from 'node:crypto';
import type { ConformanceTarget } from '@lockstep/conformance';
import { runInteropTest } from '@lockstep/conformance/vitest';
import { connect } from '@lockstep/core';
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
    const raw = rawClient(server().url);
    await raw.config('SET', 'notify-keyspace-events', 'Kgx');
    try {
      const coord = await open(server().url);
      const name = uniqueName();
      const peer = REDIS_PEERS.find((p) => p.id === 'interop.redis-semaphore')!;
      const lags: number[] = [];
      for (let round = 0; round < 3; round++) {
        const release = (await peer.tryLock(raw, name, 30_000))!;
        const waiting = coord.lock('x', { native: peer.key(name) }).acquire({ waitMs: 10_000 });
        await delay(150);
        const released = performance.now();
        await release();
        const held = await waiting;
        lags.push(performance.now() - released);
        await held.release();
      }
      lags.sort((a, b) => a - b);
      expect(lags[1]).toBeLessThan(100); // core's fallback re-check alone takes 200 ms or more
    } finally {
      await raw.config('SET', 'notify-keyspace-events', '');
    }
  });

  it("wake a lockstep semaphore waiter on redis-semaphore's silent release when the server publishes a sorted set's events", async () => {
    const raw = rawClient(server().url);
    await raw.config('SET', 'notify-keyspace-events', 'Kz');
    try {
      const coord = await open(server().url);
      const name = uniqueName();
      const { Semaphore } = await import('redis-semaphore');
      const peer = new Semaphore(raw, name, 1, { lockTimeout: 30_000, acquireTimeout: 50 });
      const lags: number[] = [];
      for (let round = 0; round < 3; round++) {
        expect(await peer.tryAcquire()).toBe(true);
        const waiting = coord
          .semaphore('x', { native: `semaphore:${name}`, permits: 1, ttlMs: 30_000 })
          .acquire({ waitMs: 10_000 });
        await delay(150);
        const released = performance.now();
        await peer.release();
        const held = await waiting;
        lags.push(performance.now() - released);
        await held.release();
      }
      lags.sort((a, b) => a - b);
      expect(lags[1]).toBeLessThan(100); // core's fallback re-check alone takes 200 ms or more
    } finally {
      await raw.config('SET', 'notify-keyspace-events', '');
    }
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
