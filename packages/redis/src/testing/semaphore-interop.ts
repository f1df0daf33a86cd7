/**
 * Interop of semaphores on Redis: `semaphore(name, { native: 'semaphore:KEY', permits })` counts
 * the same permits as redis-semaphore's `Semaphore(client, 'KEY', permits)` — one sorted set of
 * holder ids scored by the time of their last acquire or refresh, an entry older than the
 * lease dropped by whoever looks next — while lockstep's fencing tokens sit beside it at
 * `KEY:lockstep-fence`.
 *
 * Sharing is safe on the terms redis-semaphore's own clients share it: every client uses the
 * same lease (`ttlMs` = its `lockTimeout`) and the same count, and redis-semaphore's clocks
 * agree with the server's (it scores with its client's clock, lockstep with the server's).
 *
 * redis-semaphore is imported when a scenario runs, so this module loads without it.
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
  within,
} from '@lockstep/conformance/interop';
import type { Coordinator, LockHandle } from '@lockstep/core';
import type { Redis } from 'ioredis';
import type { LockOptions } from 'redis-semaphore';
import { redisSemaphoreSetKey } from './libraries.js';
import { scenarioClient, withKeyspaceEvents } from './raw.js';

/** redis-semaphore's `Semaphore` at `name` (its key is `semaphore:<name>`). */
async function peerSemaphore(client: Redis, name: string, permits: number, options: LockOptions) {
  const { Semaphore } = await import('redis-semaphore');
  return new Semaphore(client, name, permits, options);
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

const LEASE_MS = 5_000;

/** Both ways on one key: each side's permits count for the other; a lockstep waiter gets the permit a peer gives back silently. */
async function countsBothWays(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const coord = await ctx.open();
  const client = await scenarioClient(ctx, target.url);
  const name = ctx.place('exports');
  const key = redisSemaphoreSetKey(name);
  const semaphore = coord.semaphore('exports', { native: key, permits: 2, ttlMs: LEASE_MS });
  // Its tryAcquire() polls until acquireTimeout (10 s by default) before giving up.
  const peer = await peerSemaphore(client, name, 2, {
    lockTimeout: LEASE_MS,
    acquireTimeout: 50,
    retryInterval: 10,
  });

  const first = await semaphore.acquire();
  const second = await semaphore.acquire();
  checkEqual(await client.type(key), 'zset', "the type of redis-semaphore's key");
  const members = await client.zrange(key, 0, -1);
  check(
    members.length === 2 && members.every((m) => /^[0-9a-f]{32}$/.test(m)),
    `lockstep's two permits are two plain members of the sorted set, got ${members.join(', ')}`,
  );
  check(!(await peer.tryAcquire()), 'redis-semaphore got a third permit of 2 while lockstep held both');
  checkEqual(await first.release(), true, "lockstep's release");
  checkEqual(await client.zcard(key), 1, 'entries left after one release');

  check(await peer.tryAcquire(), 'redis-semaphore could not take the permit lockstep gave back');
  check(
    (await semaphore.tryAcquire()) === null,
    'lockstep got a third permit of 2 while lockstep and redis-semaphore held one each',
  );
  // redis-semaphore's release announces nothing (no keyspace events here): the waiter finds the
  // permit at its fallback re-check.
  const waiting = semaphore.acquire({ waitMs: 10_000 });
  waiting.catch(() => {});
  await delay(50);
  await peer.release();
  const third = await waiting;
  check(
    third.fencingToken > second.fencingToken,
    `token ${third.fencingToken} not above ${second.fencingToken}`,
  );
  checkEqual(
    await client.get(`${key}:lockstep-fence`),
    String(third.fencingToken),
    'the fence beside the key',
  );
  await second.release();
  await third.release();
  checkEqual(await client.exists(key), 0, 'the key after every permit was given back');
}

const STALL_LEASE_MS = 1_000;

/** A holder that stops refreshing gives its permit back after the one lease both judge it by, whichever library it used. */
async function stalledHolders(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const coord = await ctx.open();
  const client = await scenarioClient(ctx, target.url);
  const name = ctx.place('stalled');
  const semaphore = coord.semaphore('stalled', {
    native: redisSemaphoreSetKey(name),
    permits: 1,
    ttlMs: STALL_LEASE_MS,
  });

  // A redis-semaphore holder that never refreshes (refreshInterval 0), as if its process died.
  const stalledPeer = await peerSemaphore(client, name, 1, {
    lockTimeout: STALL_LEASE_MS,
    refreshInterval: 0,
    acquireTimeout: 50,
  });
  check(await stalledPeer.tryAcquire(), 'redis-semaphore could not take the free permit');
  const peerSince = performance.now();
  check((await semaphore.tryAcquire()) === null, 'lockstep got the only permit redis-semaphore holds');
  const ours = await semaphore.acquire({ waitMs: 10_000, signal: ctx.signal });
  const peerFreedAfter = performance.now() - peerSince;
  check(
    peerFreedAfter >= STALL_LEASE_MS * 0.5,
    `lockstep got the stalled peer's permit after ${Math.round(peerFreedAfter)} ms, inside its ${STALL_LEASE_MS} ms lease`,
  );
  await ours.release();

  // A lockstep holder that never renews: redis-semaphore gets its permit once the lease is over.
  const stalled = await coord
    .semaphore('stalled', {
      native: redisSemaphoreSetKey(name),
      permits: 1,
      ttlMs: STALL_LEASE_MS,
      autoExtend: false,
    })
    .acquire();
  const oursSince = performance.now();
  const waitingPeer = await peerSemaphore(client, name, 1, {
    lockTimeout: STALL_LEASE_MS,
    acquireTimeout: 10_000,
    retryInterval: 10,
  });
  await waitingPeer.acquire();
  const oursFreedAfter = performance.now() - oursSince;
  check(
    oursFreedAfter >= STALL_LEASE_MS * 0.5,
    `redis-semaphore got the stalled lockstep permit after ${Math.round(oursFreedAfter)} ms, inside its ${STALL_LEASE_MS} ms lease`,
  );
  await within(aborted(stalled.signal), 1_000, "the stalled lockstep permit's loss signal");
  checkEqual(await stalled.isHeld(), false, "isHeld() of lockstep's stalled permit");
  checkEqual(await stalled.release(), false, "release() of lockstep's stalled permit");
  await waitingPeer.release();
}

/**
 * Three lockstep clients and two redis-semaphore clients, 8 cycles each, on 2 permits: more
 * lockstep clients than permits, so a lockstep side that counted one permit too many (or did
 * not see the peers' entries) lets three in.
 */
async function contention(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const raw = await scenarioClient(ctx, target.url);
  // Lockstep waiters hear the peers' ZREMs (a sorted set's events are class z).
  await withKeyspaceEvents(ctx, raw, 'Kgxz');
  const name = ctx.place('contended');
  const key = redisSemaphoreSetKey(name);
  const room = new CriticalSection(2);
  const tokensOf: bigint[][] = [];
  const lockstepWorker = async (coord: Coordinator) => {
    const tokens: bigint[] = [];
    tokensOf.push(tokens);
    for (let i = 0; i < 8; i++) {
      const held: LockHandle = await coord
        .semaphore('contended', { native: key, permits: 2, ttlMs: 2_000 })
        .acquire({ waitMs: 30_000, signal: ctx.signal });
      tokens.push(held.fencingToken);
      await room.visit(2);
      await held.release();
    }
  };
  const peerWorker = async (client: Redis) => {
    const peer = await peerSemaphore(client, name, 2, {
      lockTimeout: 2_000,
      acquireTimeout: 30_000,
      retryInterval: 5,
    });
    for (let i = 0; i < 8; i++) {
      await peer.acquire();
      await room.visit(2);
      await peer.release();
    }
  };
  const coords = [await ctx.open(), await ctx.open(), await ctx.open()];
  const peers = [await scenarioClient(ctx, target.url), await scenarioClient(ctx, target.url)];
  await Promise.all([...coords.map(lockstepWorker), ...peers.map(peerWorker)]);
  check(room.most <= 2, `${room.most} holders of 2 permits were inside at once`);
  checkEqual(room.most, 2, 'the most holders inside at once (both permits used)');
  const all = tokensOf.flat();
  checkEqual(new Set(all).size, all.length, 'distinct lockstep tokens');
  for (const tokens of tokensOf) {
    check(strictlyIncreasing(tokens), `one client's successive tokens not increasing: ${tokens.join(', ')}`);
  }
}

/** The report id of every semaphore scenario. */
const ID = 'interop.redis-semaphore.semaphore';

/** The semaphore scenarios against redis-semaphore@5's `Semaphore` on a `redis://` target. */
export const REDIS_SEMAPHORE_INTEROP: readonly InteropScenario[] = [
  {
    id: ID,
    title:
      "redis-semaphore@5 Semaphore: both count one set of permits on its sorted set, with lockstep's fencing state beside it",
    run: countsBothWays,
  },
  {
    id: ID,
    title:
      'redis-semaphore@5 Semaphore: a holder that stops refreshing gives its permit back after the shared lease, either way',
    run: stalledHolders,
  },
  {
    id: ID,
    title:
      "redis-semaphore@5 Semaphore: contending clients of both (3 lockstep, 2 peers) never exceed the 2 permits, and lockstep's tokens keep increasing",
    run: contention,
  },
];
