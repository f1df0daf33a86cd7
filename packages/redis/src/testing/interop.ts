/**
 * Interop on Redis: `lock(name, { native: KEY })` takes the lock exactly where
 * node-redlock (4.2.0 and 5.0.0-beta.2) and redis-semaphore's Mutex take theirs —
 * `SET KEY value NX PX ttl`, released by compare-and-delete — so each excludes the other,
 * both ways, while lockstep's fencing tokens (kept at `KEY:lockstep-fence`) keep increasing.
 *
 * The peer libraries are imported when a scenario runs, so this module loads without them.
 * Every key a scenario writes is a place under the run's scratch root (`ctx.place`).
 * @module
 */
import type { ConformanceTarget } from '@lockstep/conformance';
import {
  CriticalSection,
  check,
  checkEqual,
  delay,
  type InteropContext,
  type InteropScenario,
  strictlyIncreasing,
} from '@lockstep/conformance/interop';
import type { Coordinator, LockHandle } from '@lockstep/core';
import type { Redis } from 'ioredis';
import { redisSemaphoreKey, redlock4, redlock5 } from './libraries.js';
import { scenarioClient, withKeyspaceEvents } from './raw.js';
import { REDIS_SEMAPHORE_INTEROP } from './semaphore-interop.js';

/** How a peer library takes and gives back a lock; `release` is what a grant returns. */
export interface RedisPeer {
  readonly id: 'interop.redlock' | 'interop.redis-semaphore';
  readonly library: string;
  /** The Redis key the peer uses for `name`. */
  key(name: string): string;
  /** One attempt: a release function, or null when held. */
  tryLock(client: Redis, name: string, ttlMs: number): Promise<(() => Promise<void>) | null>;
  /** Waits (by the peer's own polling) until granted. */
  lock(client: Redis, name: string, ttlMs: number): Promise<() => Promise<void>>;
}

/** The three peers: redlock 4, redlock 5 (both `interop.redlock`) and redis-semaphore's Mutex. */
export const REDIS_PEERS: readonly RedisPeer[] = [
  {
    id: 'interop.redlock',
    library: 'redlock@4.2.0',
    key: (name) => name,
    tryLock: async (client, name, ttl) => {
      const redlock = await redlock4([client], { retryCount: 0 });
      const lock = await redlock.lock(name, ttl).catch(() => null);
      return lock && (async () => void (await lock.unlock()));
    },
    lock: async (client, name, ttl) => {
      const redlock = await redlock4([client], { retryCount: -1, retryDelay: 10, retryJitter: 5 });
      const lock = await redlock.lock(name, ttl);
      return async () => void (await lock.unlock());
    },
  },
  {
    id: 'interop.redlock',
    library: 'redlock@5.0.0-beta.2',
    key: (name) => name,
    tryLock: async (client, name, ttl) => {
      const redlock = await redlock5([client], { retryCount: 0 });
      const lock = await redlock.acquire([name], ttl).catch(() => null);
      return lock && (async () => void (await lock.release()));
    },
    lock: async (client, name, ttl) => {
      const redlock = await redlock5([client], { retryCount: -1, retryDelay: 10, retryJitter: 5 });
      const lock = await redlock.acquire([name], ttl);
      return async () => void (await lock.release());
    },
  },
  {
    id: 'interop.redis-semaphore',
    library: 'redis-semaphore@5 Mutex',
    key: redisSemaphoreKey,
    tryLock: async (client, name, ttl) => {
      const { Mutex } = await import('redis-semaphore');
      // Its tryAcquire() still waits out acquireTimeout (10 s by default) when held.
      const mutex = new Mutex(client, name, { lockTimeout: ttl, acquireTimeout: 50 });
      return (await mutex.tryAcquire()) ? () => mutex.release() : null;
    },
    lock: async (client, name, ttl) => {
      const { Mutex } = await import('redis-semaphore');
      const mutex = new Mutex(client, name, { lockTimeout: ttl, acquireTimeout: 30_000, retryInterval: 5 });
      await mutex.acquire();
      return () => mutex.release();
    },
  },
];

/** Both directions on one key: each side's hold blocks the other; a lockstep waiter gets it after the peer's silent release. */
async function excludesBothWays(
  peer: RedisPeer,
  target: ConformanceTarget,
  ctx: InteropContext,
): Promise<void> {
  const coord = await ctx.open();
  const client = await scenarioClient(ctx, target.url);
  const name = ctx.place('report');
  const key = peer.key(name);
  const lock = coord.lock('reports', { native: key, ttlMs: 5_000 });

  const ours = await lock.acquire();
  const value = await client.get(key);
  check(
    /^[0-9a-f]{32}$/.test(value ?? ''),
    `lockstep's value at the plain key is a plain string, got ${value}`,
  );
  check((await peer.tryLock(client, name, 5_000)) === null, `${peer.library} got the key lockstep holds`);
  checkEqual(await ours.release(), true, "lockstep's release");
  checkEqual(await client.exists(key), 0, 'the key exists after release');

  const theirs = await peer.tryLock(client, name, 5_000);
  check(theirs !== null, `${peer.library} could not take the free key`);
  check((await lock.tryAcquire()) === null, `lockstep got the key ${peer.library} holds`);
  // A lockstep waiter gets the lock after the peer's silent release (no notification from
  // the peer, no keyspace events here): re-checked within core's fallback bound.
  const waiting = lock.acquire({ waitMs: 10_000 });
  waiting.catch(() => {});
  await delay(50);
  await theirs();
  const next = await waiting;
  check(next.fencingToken > ours.fencingToken, `token ${next.fencingToken} not above ${ours.fencingToken}`);
  checkEqual(
    await client.get(`${key}:lockstep-fence`),
    String(next.fencingToken),
    'the fence beside the key',
  );
  await next.release();
}

/** Two lockstep clients and two peer clients, 8 cycles each: never both inside, tokens increasing. */
async function contention(peer: RedisPeer, target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const raw = await scenarioClient(ctx, target.url);
  await withKeyspaceEvents(ctx, raw); // lets lockstep waiters hear peers' DELs
  const name = ctx.place('report');
  const key = peer.key(name);
  const coords = [await ctx.open(), await ctx.open()];
  const peerClients = [await scenarioClient(ctx, target.url), await scenarioClient(ctx, target.url)];
  const section = new CriticalSection();
  const tokens: bigint[] = [];
  const lockstepWorker = async (coord: Coordinator) => {
    for (let i = 0; i < 8; i++) {
      const held: LockHandle = await coord
        .lock('x', { native: key, ttlMs: 2_000 })
        .acquire({ waitMs: 30_000 });
      tokens.push(held.fencingToken);
      await section.visit(2);
      await held.release();
    }
  };
  const peerWorker = async (client: Redis) => {
    for (let i = 0; i < 8; i++) {
      const release = await peer.lock(client, name, 2_000);
      await section.visit(2);
      await release();
    }
  };
  await Promise.all([...coords.map(lockstepWorker), ...peerClients.map(peerWorker)]);
  checkEqual(section.overlaps, 0, 'overlapping holders');
  checkEqual(tokens.length, 16, 'lockstep grants');
  check(strictlyIncreasing(tokens), `lockstep's tokens not strictly increasing: ${tokens.join(', ')}`);
}

/** The scenarios of one peer: both ways, then contention. */
export function redisPeerScenarios(peer: RedisPeer): InteropScenario[] {
  return [
    {
      id: peer.id,
      title: `${peer.library}: excludes both ways on the same key, with lockstep's fencing state beside it`,
      run: (target, ctx) => excludesBothWays(peer, target, ctx),
    },
    {
      id: peer.id,
      title: `${peer.library}: contending clients are never both inside, and lockstep's tokens keep increasing`,
      run: (target, ctx) => contention(peer, target, ctx),
    },
  ];
}

/** Every Redis interop scenario for a single-instance `redis://` target: locks, then semaphores. */
export const REDIS_INTEROP: readonly InteropScenario[] = [
  ...REDIS_PEERS.flatMap(redisPeerScenarios),
  ...REDIS_SEMAPHORE_INTEROP,
];

/**
 * `interop.redlock` over several instances (`redlock://`): a quorum taken by either side
 * (lockstep or redlock 5) excludes the other. `urls` are the instances' `redis://` URLs.
 */
export function redlockQuorumScenario(urlsOf: (target: ConformanceTarget) => string[]): InteropScenario {
  return {
    id: 'interop.redlock',
    title: 'redlock@5.0.0-beta.2 over three instances: a quorum taken by either side excludes the other',
    run: async (target, ctx) => {
      const coord = await ctx.open();
      const clients = await Promise.all(urlsOf(target).map((url) => scenarioClient(ctx, url)));
      const redlock = await redlock5(clients, { retryCount: 0 });
      const name = ctx.place('report');
      const lock = coord.lock('reports', { native: name, ttlMs: 5_000 });

      const ours = await lock.acquire();
      const refused = await redlock.acquire([name], 5_000).then(
        async (got) => {
          await got.release();
          return false;
        },
        () => true,
      );
      check(refused, 'redlock 5 took the quorum lockstep holds');
      checkEqual(await ours.release(), true, "lockstep's release");

      const theirs = await redlock.acquire([name], 5_000);
      check((await lock.tryAcquire()) === null, 'lockstep got the quorum redlock 5 holds');
      await theirs.release();
      const again = await lock.tryAcquire();
      check(again !== null, 'lockstep could not take the quorum after redlock released it');
      await again.release();
    },
  };
}
