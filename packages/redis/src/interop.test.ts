/**
 * Issue 10, Redis part: `lock(name, { native: KEY })` takes the lock exactly where
 * node-redlock (4.2.0 and 5.0.0-beta.2) and redis-semaphore's Mutex take theirs —
 * `SET KEY value NX PX ttl`, released by compare-and-delete — so each excludes the other,
 * both ways, while lockstep's fencing tokens (kept at `KEY:lockstep-fence`) keep increasing.
 */
import { randomBytes } from 'node:crypto';
import type { Coordinator, LockHandle } from '@lockstep/core';
import type { Redis } from 'ioredis';
import { Mutex } from 'redis-semaphore';
import Redlock4 from 'redlock4';
import Redlock5 from 'redlock5';
import { describe, expect, it } from 'vitest';
import { delay, open, rawClient } from './test-support/helpers.js';
import { useRedisCluster, useRedisServer } from './test-support/servers.js';

/** How a peer library takes and gives back a lock; `release` is what a grant returns. */
interface Peer {
  readonly id: string;
  readonly library: string;
  /** The Redis key the peer uses for `name`. */
  key(name: string): string;
  /** One attempt: a release function, or null when held. */
  tryLock(client: Redis, name: string, ttlMs: number): Promise<(() => Promise<void>) | null>;
  /** Waits (by the peer's own polling) until granted. */
  lock(client: Redis, name: string, ttlMs: number): Promise<() => Promise<void>>;
}

const PEERS: Peer[] = [
  {
    id: 'interop.redlock',
    library: 'redlock@4.2.0',
    key: (name) => name,
    tryLock: async (client, name, ttl) => {
      const redlock = new Redlock4([client], { retryCount: 0 });
      redlock.on('clientError', () => {});
      const lock = await redlock.lock(name, ttl).catch(() => null);
      return lock && (() => lock.unlock());
    },
    lock: async (client, name, ttl) => {
      const redlock = new Redlock4([client], { retryCount: -1, retryDelay: 10, retryJitter: 5 });
      const lock = await redlock.lock(name, ttl);
      return () => lock.unlock();
    },
  },
  {
    id: 'interop.redlock',
    library: 'redlock@5.0.0-beta.2',
    key: (name) => name,
    tryLock: async (client, name, ttl) => {
      const redlock = new Redlock5([client], { retryCount: 0 });
      redlock.on('error', () => {});
      const lock = await redlock.acquire([name], ttl).catch(() => null);
      return lock && (async () => void (await lock.release()));
    },
    lock: async (client, name, ttl) => {
      const redlock = new Redlock5([client], { retryCount: -1, retryDelay: 10, retryJitter: 5 });
      redlock.on('error', () => {});
      const lock = await redlock.acquire([name], ttl);
      return async () => void (await lock.release());
    },
  },
  {
    id: 'interop.redis-semaphore',
    library: 'redis-semaphore@5 Mutex',
    key: (name) => `mutex:${name}`,
    tryLock: async (client, name, ttl) => {
      // Its tryAcquire() still waits out acquireTimeout (10 s by default) when held.
      const mutex = new Mutex(client, name, { lockTimeout: ttl, acquireTimeout: 50 });
      return (await mutex.tryAcquire()) ? () => mutex.release() : null;
    },
    lock: async (client, name, ttl) => {
      const mutex = new Mutex(client, name, { lockTimeout: ttl, acquireTimeout: 30_000, retryInterval: 5 });
      await mutex.acquire();
      return () => mutex.release();
    },
  },
];

const redis = useRedisServer();
const server = () => redis.handle;

const uniqueName = () => `report-${randomBytes(4).toString('hex')}`;

describe.each(PEERS)('$id ($library) on redis://', (peer) => {
  it(`${peer.id}: excludes both ways on the same key, with lockstep's fencing state beside it`, async () => {
    const coord = await open(server().url);
    const client = rawClient(server().url);
    const name = uniqueName();
    const key = peer.key(name);
    const lock = coord.lock('reports', { native: key, ttlMs: 5_000 });

    const ours = await lock.acquire();
    expect(await client.get(key)).toMatch(/^[0-9a-f]{32}$/); // a plain string at the plain key
    expect(await peer.tryLock(client, name, 5_000)).toBeNull();
    expect(await ours.release()).toBe(true);
    expect(await client.exists(key)).toBe(0);

    const theirs = await peer.tryLock(client, name, 5_000);
    expect(theirs).not.toBeNull();
    expect(await lock.tryAcquire()).toBeNull();
    // A lockstep waiter gets the lock after the peer's silent release (no notification from
    // the peer, no keyspace events here): re-checked within core's fallback bound.
    const waiting = lock.acquire({ waitMs: 10_000 });
    await delay(50);
    await theirs!();
    const next = await waiting;
    expect(next.fencingToken > ours.fencingToken).toBe(true);
    expect(await client.get(`${key}:lockstep-fence`)).toBe(String(next.fencingToken));
    await next.release();
  });

  it(`${peer.id}: contending clients are never both inside, and lockstep's tokens keep increasing`, async () => {
    const raw = rawClient(server().url);
    await raw.config('SET', 'notify-keyspace-events', 'Kgx'); // lets lockstep waiters hear peers' DELs
    try {
      const name = uniqueName();
      const key = peer.key(name);
      const coords = [await open(server().url), await open(server().url)];
      const peerClients = [rawClient(server().url), rawClient(server().url)];
      let inside = 0;
      let overlaps = 0;
      const tokens: bigint[] = [];
      const critical = async () => {
        inside++;
        if (inside > 1) overlaps++;
        await delay(2);
        inside--;
      };
      const lockstepWorker = async (coord: Coordinator) => {
        for (let i = 0; i < 8; i++) {
          const held: LockHandle = await coord
            .lock('x', { native: key, ttlMs: 2_000 })
            .acquire({ waitMs: 30_000 });
          tokens.push(held.fencingToken);
          await critical();
          await held.release();
        }
      };
      const peerWorker = async (client: Redis) => {
        for (let i = 0; i < 8; i++) {
          const release = await peer.lock(client, name, 2_000);
          await critical();
          await release();
        }
      };
      await Promise.all([...coords.map(lockstepWorker), ...peerClients.map(peerWorker)]);
      expect(overlaps).toBe(0);
      expect(tokens).toHaveLength(16);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
    } finally {
      await raw.config('SET', 'notify-keyspace-events', '');
    }
  });
});

describe('native Redis keys', () => {
  it("wake lockstep waiters on a peer's silent release when the server publishes keyspace events", async () => {
    const raw = rawClient(server().url);
    await raw.config('SET', 'notify-keyspace-events', 'Kgx');
    try {
      const coord = await open(server().url);
      const name = uniqueName();
      const peer = PEERS.find((p) => p.id === 'interop.redis-semaphore')!;
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

  it('interop.redlock: a quorum taken by either side excludes the other', async () => {
    const coord = await open(cluster.handle.url);
    const clients = cluster.handle.nodes.map((n) => rawClient(n.url));
    const redlock = new Redlock5(clients, { retryCount: 0 });
    redlock.on('error', () => {});
    const name = uniqueName();
    const lock = coord.lock('reports', { native: name, ttlMs: 5_000 });

    const ours = await lock.acquire();
    await expect(redlock.acquire([name], 5_000)).rejects.toThrow();
    expect(await ours.release()).toBe(true);

    const theirs = await redlock.acquire([name], 5_000);
    expect(await lock.tryAcquire()).toBeNull();
    await theirs.release();
    const again = await lock.tryAcquire();
    expect(again).not.toBeNull();
    await again!.release();
  });
});
