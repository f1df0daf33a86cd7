/**
 * The peer libraries of the Redis benchmarks, on the same server(s) as lockstep, each
 * contender with its own connection(s), configured to WAIT (not fail) when the lock is held,
 * otherwise with their defaults:
 * - `redlock4` (redlock@4.2.0) and `redlock5` (redlock@5.0.0-beta.2): `retryCount: -1`,
 *   default retry delay 200 ms ± 100 ms.
 * - `redis-semaphore`: `Mutex` with `acquireTimeout: 60 s`, default retry interval 10 ms and
 *   its default auto-refresh (`RedlockMutex` over several instances), and `Semaphore`
 *   (`RedlockSemaphore`) likewise for `semaphore.handoff`. One object per contender, reused
 *   across cycles.
 * @module
 */
import {
  type BenchScope,
  type Contender,
  type PeerBench,
  type SemaphoreContenderFactory,
  scopedName,
} from '@lockstep/conformance/profile';
import type { Redis } from 'ioredis';
import { redlock4, redlock5 } from './libraries.js';
import { rawClient } from './raw.js';

/** Lease of the benchmark cycles (lockstep's default TTL). */
export const CYCLE_TTL_MS = 15_000;

/** A lock library as a uniform "acquire → release function" over a set of instance clients. */
type PeerLock = (clients: Redis[], key: string) => Promise<() => Promise<() => Promise<unknown>>>;

/** Closes raw clients. */
export function disconnectAll(clients: readonly Redis[]): void {
  for (const client of clients) client.disconnect();
}

const redlock4Lock: PeerLock = async (clients, key) => {
  const redlock = await redlock4(clients, { retryCount: -1 });
  return async () => {
    const lock = await redlock.lock(key, CYCLE_TTL_MS);
    return () => lock.unlock();
  };
};

const redlock5Lock: PeerLock = async (clients, key) => {
  const redlock = await redlock5(clients, { retryCount: -1 });
  return async () => {
    const lock = await redlock.acquire([key], CYCLE_TTL_MS);
    return () => lock.release();
  };
};

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
function peerLockBench(lock: PeerLock, urlsOf: (url: string) => string[]): PeerBench {
  const connectAll = (scope: BenchScope) => Promise.all(urlsOf(scope.url).map(rawClient));
  return {
    lockCycle: async (scope) => {
      const clients = await connectAll(scope);
      const acquire = await lock(clients, scopedName(scope.prefix, 'peer-cycle'));
      return {
        op: async () => {
          const release = await acquire();
          await release();
        },
        teardown: async () => disconnectAll(clients),
      };
    },
    lockHandoff: async (scope, n) => {
      const key = scopedName(scope.prefix, 'peer-handoff');
      return Promise.all(
        Array.from({ length: n }, async (): Promise<Contender> => {
          const clients = await connectAll(scope);
          const acquire = await lock(clients, key);
          let release: (() => Promise<unknown>) | undefined;
          return {
            acquire: async () => {
              release = await acquire();
            },
            release: async () => {
              const held = release;
              release = undefined;
              await held?.();
            },
            close: async () => disconnectAll(clients),
          };
        }),
      );
    },
  };
}

/**
 * `semaphore.handoff` contenders of redis-semaphore's `Semaphore` (`RedlockSemaphore` over
 * several instances) with its defaults (10 ms retry interval, refresh at 80% of the lease):
 * `n` clients, each its own connection(s), on one semaphore of `permits`.
 */
function redisSemaphoreContenders(urlsOf: (url: string) => string[]): SemaphoreContenderFactory {
  return async (scope, n, permits) => {
    const { Semaphore, RedlockSemaphore } = await import('redis-semaphore');
    const name = scopedName(scope.prefix, 'peer-semaphore-handoff');
    const options = { lockTimeout: CYCLE_TTL_MS, acquireTimeout: 60_000 };
    return Promise.all(
      Array.from({ length: n }, async (): Promise<Contender> => {
        const clients = await Promise.all(urlsOf(scope.url).map(rawClient));
        const semaphore =
          clients.length === 1
            ? new Semaphore(clients[0]!, name, permits, options)
            : new RedlockSemaphore(clients, name, permits, options);
        return {
          acquire: () => semaphore.acquire(),
          release: () => semaphore.release(),
          close: async () => disconnectAll(clients),
        };
      }),
    );
  };
}

/** The peer libraries users pick instead of lockstep on Redis. */
export function redisPeers(urlsOf: (url: string) => string[]): Record<string, PeerBench> {
  return {
    redlock4: peerLockBench(redlock4Lock, urlsOf),
    redlock5: peerLockBench(redlock5Lock, urlsOf),
    'redis-semaphore': {
      ...peerLockBench(redisSemaphoreLock, urlsOf),
      semaphoreHandoff: redisSemaphoreContenders(urlsOf),
    },
  };
}
