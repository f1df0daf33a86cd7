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
 * Peers, on the same server, each contender with its own connection, configured to WAIT
 * (not fail) when the lock is held, otherwise with their defaults:
 * - `redlock4` (redlock@4.2.0) and `redlock5` (redlock@5.0.0-beta.2): `retryCount: -1`,
 *   default retry delay 200 ms ± 100 ms.
 * - `redis-semaphore`: `Mutex` with `acquireTimeout: 60 s`, default retry interval 10 ms and
 *   its default auto-refresh. One `Mutex` object per contender, reused across cycles.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis as RedisClient } from 'ioredis';
import type { BackendProfile, BenchSubject, Contender, ContenderFactory, PeerBench } from './profile.js';
import { provisionServerTarget } from './server.js';

/** Lease for the suite's lease tests. Renewal runs at a third of it; 800 ms tolerates a busy machine. */
const REDIS_TTL_MS = 800;
/** Lease of the benchmark cycles (lockstep's default TTL). */
const CYCLE_TTL_MS = 15_000;

const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const COMPARE_AND_DELETE_SHA = createHash('sha1').update(COMPARE_AND_DELETE).digest('hex');

const uniqueKey = (what: string) => `compare/${what}/${randomBytes(4).toString('hex')}`;
const ownerId = () => randomBytes(16).toString('hex');

/** Modules without usable type declarations (redlock 4 has none; redlock 5 hides its behind `exports`). */
async function untyped<T>(specifier: string): Promise<T> {
  const module = (await import(specifier)) as { default?: T };
  return (module.default ?? module) as T;
}

/** A raw ioredis client for a `redis://` URL (also used per instance by the redlock profile). */
export async function rawClient(url: string): Promise<RedisClient> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** `SET NX PX` + EVALSHA compare-and-delete on each of `clients` in parallel, quorum required. */
export async function floorLockCycle(urls: readonly string[]): Promise<BenchSubject> {
  const clients = await Promise.all(urls.map(rawClient));
  const key = uniqueKey('floor-cycle');
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

/** Closes raw clients. */
function disconnectAll(clients: readonly RedisClient[]): void {
  for (const client of clients) client.disconnect();
}

/** Builds `n` contenders that each own their connection(s). */
async function contenders(
  n: number,
  make: () => Promise<{ acquire(): Promise<() => Promise<unknown>>; close(): Promise<void> }>,
): Promise<Contender[]> {
  const made = await Promise.all(Array.from({ length: n }, make));
  return made.map((m) => {
    let release: (() => Promise<unknown>) | undefined;
    return {
      acquire: async () => {
        release = await m.acquire();
      },
      release: async () => {
        const r = release;
        release = undefined;
        await r?.();
      },
      close: () => m.close(),
    };
  });
}

interface Redlock4Like {
  lock(resource: string, ttl: number): Promise<{ unlock(): Promise<unknown> }>;
  on(event: string, listener: (error: unknown) => void): unknown;
}
type Redlock4Ctor = new (clients: RedisClient[], options: Record<string, number>) => Redlock4Like;
interface Redlock5Like {
  acquire(resources: string[], ttl: number): Promise<{ release(): Promise<unknown> }>;
  on(event: string, listener: (error: unknown) => void): unknown;
}
type Redlock5Ctor = new (clients: RedisClient[], options: Record<string, number>) => Redlock5Like;

/** A lock library as a uniform "acquire → release function" over a set of instance clients. */
type PeerLock = (clients: RedisClient[], key: string) => Promise<() => Promise<() => Promise<unknown>>>;

const redlock4Lock: PeerLock = async (clients, key) => {
  const Redlock = await untyped<Redlock4Ctor>('redlock4');
  const redlock = new Redlock(clients, { retryCount: -1 });
  redlock.on('clientError', () => {});
  return async () => {
    const lock = await redlock.lock(key, CYCLE_TTL_MS);
    return () => lock.unlock();
  };
};

const redlock5Lock: PeerLock = async (clients, key) => {
  const Redlock = await untyped<Redlock5Ctor>('redlock5');
  const redlock = new Redlock(clients, { retryCount: -1 });
  redlock.on('error', () => {});
  return async () => {
    const lock = await redlock.acquire([key], CYCLE_TTL_MS);
    return () => lock.release();
  };
};

/** redis-semaphore's `Mutex` on one instance, `RedlockMutex` on several. */
const redisSemaphoreLock: PeerLock = async (clients, key) => {
  const { Mutex, RedlockMutex } = await import('redis-semaphore');
  const options = { lockTimeout: CYCLE_TTL_MS, acquireTimeout: 60_000 };
  const mutex =
    clients.length === 1 ? new Mutex(clients[0]!, key, options) : new RedlockMutex(clients, key, options);
  return async () => {
    await mutex.acquire();
    return () => mutex.release();
  };
};

/** A {@link PeerBench} for a lock library against the instances `urlsOf(url)` names. */
export function peerLockBench(lock: PeerLock, urlsOf: (url: string) => string[]): PeerBench {
  const lockHandoff: ContenderFactory = async (url, n) => {
    const key = uniqueKey('peer-handoff');
    return contenders(n, async () => {
      const clients = await Promise.all(urlsOf(url).map(rawClient));
      return { acquire: await lock(clients, key), close: async () => disconnectAll(clients) };
    });
  };
  return {
    lockCycle: async (url) => {
      const clients = await Promise.all(urlsOf(url).map(rawClient));
      const acquire = await lock(clients, uniqueKey('peer-cycle'));
      return {
        op: async () => {
          const release = await acquire();
          await release();
        },
        teardown: async () => disconnectAll(clients),
      };
    },
    lockHandoff,
  };
}

/** The peer libraries users pick instead of lockstep on Redis. */
export function redisPeers(urlsOf: (url: string) => string[]): Record<string, PeerBench> {
  return {
    redlock4: peerLockBench(redlock4Lock, urlsOf),
    redlock5: peerLockBench(redlock5Lock, urlsOf),
    'redis-semaphore': peerLockBench(redisSemaphoreLock, urlsOf),
  };
}

/** One raw client and an `INCR` per call. */
async function incrSubject(url: string): Promise<BenchSubject> {
  const client = await rawClient(url);
  const key = uniqueKey('counter');
  return {
    op: async () => {
      await client.incr(key);
    },
    teardown: async () => client.disconnect(),
  };
}

export const profile: BackendProfile = {
  name: 'redis',
  adapterModule: '@lockstep/redis',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'redis',
      kind: 'redis',
      adapterModule: '@lockstep/redis',
      ttlMs: REDIS_TTL_MS,
    }),
  floor: {
    lockCycle: (url) => floorLockCycle([url]),
    counterIncrement: incrSubject,
  },
  naive: {
    counterThroughput64: incrSubject,
  },
  peers: redisPeers((url) => [url]),
  interop: async () => (await import('../interop/redis.js')).REDIS_INTEROP,
};

export default profile;
