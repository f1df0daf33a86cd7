/**
 * redis:// specifics against a real redis-server: round trips, key layout, scripts, waking,
 * loss, the restart anomaly, counters, and connection failures.
 */
import { BackendUnavailableError, CounterBoundError, type LockHandle, LockLostError } from '@lockstep/core';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { subscriberFor } from './connection.js';
import { redisCoordinator } from './index.js';
import {
  abortedAfter,
  commandCalls,
  delay,
  eventually,
  freshPrefix,
  open,
  rawClient,
  within,
} from './test-support/helpers.js';
import { requireProcessControl, useRedisServer } from './test-support/servers.js';
import { spawnHolder } from './test-support/spawn-holder.js';

const redis = useRedisServer();
const server = () => redis.handle;

describe('redis:// locks', () => {
  it('acquires in one EVALSHA and keeps owner and fencing state at the namespaced keys', async () => {
    const prefix = freshPrefix();
    const coord = await open(server().url, { prefix });
    const raw = rawClient(server().url);
    const lock = coord.lock('invoice/42');
    await (await lock.acquire()).release(); // load the scripts
    await raw.config('RESETSTAT');
    const held = await lock.acquire();
    expect(await commandCalls(raw, 'evalsha')).toBe(1);
    expect(await commandCalls(raw, 'eval')).toBe(0);
    expect(await raw.get(`${prefix}/lock/invoice%2F42`)).toMatch(/^[0-9a-f]{32}$/);
    expect(await raw.get(`${prefix}/fence/invoice%2F42`)).toBe(String(held.fencingToken));
    const pttl = await raw.pttl(`${prefix}/lock/invoice%2F42`);
    expect(pttl).toBeGreaterThan(14_000);
    expect(pttl).toBeLessThanOrEqual(15_000);
    await held.release();
    expect(await raw.exists(`${prefix}/lock/invoice%2F42`)).toBe(0);
  });

  it('runs its scripts again after SCRIPT FLUSH (NOSCRIPT falls back to EVAL)', async () => {
    const coord = await open(server().url, { prefix: freshPrefix() });
    const raw = rawClient(server().url);
    await (await coord.lock('s').acquire()).release();
    await raw.script('FLUSH');
    const held = await coord.lock('s').acquire();
    expect(await held.isHeld()).toBe(true);
    expect(await held.release()).toBe(true);
  });

  it('issues strictly increasing fencing tokens across holders', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(server().url, { prefix }), await open(server().url, { prefix })];
    const tokens: bigint[] = [];
    for (let i = 0; i < 6; i++) {
      const held = await (i % 2 ? a : b).lock('fenced').acquire();
      tokens.push(held.fencingToken);
      await held.release();
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
  });

  it('wakes a waiter by notification within a few ms of the release, without polling', async () => {
    const prefix = freshPrefix();
    const holder = await open(server().url, { prefix });
    const waiter = await open(server().url, { prefix });
    const raw = rawClient(server().url);
    const lags: number[] = [];
    for (let round = 0; round < 5; round++) {
      const held = await holder.lock('handoff').acquire();
      await raw.config('RESETSTAT');
      const waiting = waiter.lock('handoff').acquire({ waitMs: 10_000 });
      // Let the waiter subscribe and settle into its wait; the release must still wake it.
      await delay(150);
      const released = performance.now();
      await held.release();
      const next = await waiting;
      lags.push(performance.now() - released);
      // First attempt, the re-check when the subscription is confirmed, the grant: no polling.
      expect(await commandCalls(raw, 'evalsha')).toBeLessThanOrEqual(5);
      await next.release();
    }
    lags.sort((x, y) => x - y);
    // Core's fallback re-check would take 200 ms or more; the notification takes a round trip.
    expect(lags[2]).toBeLessThan(50);
  });

  it('retries when an abandoned lease runs out, although an expiry publishes nothing', async () => {
    const prefix = freshPrefix();
    const crashed = await open(server().url, { prefix });
    const waiter = await open(server().url, { prefix });
    const ttlMs = 1_000;
    const start = performance.now();
    await crashed.lock('abandoned', { ttlMs, autoExtend: false }).acquire();
    const held = await waiter.lock('abandoned').acquire({ waitMs: 5_000 });
    const waited = performance.now() - start;
    // Core's fallback alone would re-check at ~250, ~750, then 1400 ms or later.
    expect(waited).toBeGreaterThanOrEqual(ttlMs - 5);
    expect(waited).toBeLessThan(1_300);
    await held.release();
  });

  it('hands the lock to a waiting client instead of letting the releaser take it straight back', async () => {
    const prefix = freshPrefix();
    const releaser = await open(server().url, { prefix });
    const waiter = await open(server().url, { prefix });
    const held = await releaser.lock('handoff').acquire();
    const waiting = waiter.lock('handoff').acquire({ waitMs: 5_000 });
    const raw = rawClient(server().url);
    await eventually(async () => expect(await raw.hlen(`${prefix}/waiters/handoff`)).toBe(1));
    await held.release();
    // Reserved for the waiter: the releaser's immediate retake is refused.
    expect(await releaser.lock('handoff').tryAcquire()).toBeNull();
    const next = await waiting;
    expect(next.fencingToken > held.fencingToken).toBe(true);
    await next.release();
    // The waiter withdrew its registration when it stopped waiting.
    await eventually(async () => expect(await raw.exists(`${prefix}/waiters/handoff`)).toBe(0));
  });

  it('does not count a lone tryAcquire() as a waiter', async () => {
    const prefix = freshPrefix();
    const holder = await open(server().url, { prefix });
    const other = await open(server().url, { prefix });
    const raw = rawClient(server().url);
    const held = await holder.lock('lone').acquire();
    expect(await other.lock('lone').tryAcquire()).toBeNull();
    expect(await raw.exists(`${prefix}/waiters/lone`)).toBe(0);
    await held.release();
    expect(await raw.exists(`${prefix}/lock/lone`)).toBe(0); // deleted, not reserved
  });

  it('gives every contender its turn: the next grant goes to a different client', async () => {
    const prefix = freshPrefix();
    const coords = await Promise.all([1, 2, 3, 4].map(() => open(server().url, { prefix })));
    const grants: number[] = [];
    await Promise.all(
      coords.map(async (coord, id) => {
        for (let i = 0; i < 10; i++) {
          const held = await coord.lock('turns').acquire({ waitMs: 10_000 });
          grants.push(id);
          await delay(2);
          await held.release();
        }
      }),
    );
    const switches = grants.filter((id, i) => i > 0 && id !== grants[i - 1]).length;
    expect(switches / (grants.length - 1)).toBeGreaterThan(0.8);
  });

  it('costs at most the handoff window when a registered waiter died', async () => {
    const prefix = freshPrefix();
    const coord = await open(server().url, { prefix, handoffMs: 300 });
    const raw = rawClient(server().url);
    // A waiter registration from a coordinator that is gone (still within its expiry).
    const now = Number((await raw.time())[0]) * 1000;
    await raw.hset(`${prefix}/waiters/orphan`, 'deadbeefdeadbeef', String(now + 60_000));
    const held = await coord.lock('orphan').acquire();
    await held.release();
    expect(await coord.lock('orphan').tryAcquire()).toBeNull(); // reserved for the dead waiter
    const start = performance.now();
    const next = await coord.lock('orphan').acquire({ waitMs: 5_000 });
    expect(performance.now() - start).toBeLessThan(600);
    await next.release();
  });

  it('with handoffMs 0, a release simply deletes the key', async () => {
    const prefix = freshPrefix();
    const releaser = await open(server().url, { prefix, handoffMs: 0 });
    const waiter = await open(server().url, { prefix, handoffMs: 0 });
    const raw = rawClient(server().url);
    const held = await releaser.lock('plain').acquire();
    const waiting = waiter.lock('plain').acquire({ waitMs: 5_000 });
    await delay(100);
    expect(await raw.exists(`${prefix}/waiters/plain`)).toBe(0);
    await held.release();
    // Deleted, not reserved: absent, or already the waiter's owner id.
    expect(String(await raw.get(`${prefix}/lock/plain`))).not.toMatch(/^handoff:/);
    await (await waiting).release();
  });

  it('never hangs a waiter whose release message was lost', async () => {
    const prefix = freshPrefix();
    const holder = await open(server().url, { prefix });
    const waiter = await open(server().url, { prefix });
    const raw = rawClient(server().url);
    await holder.lock('silent', { ttlMs: 30_000 }).acquire();
    const waiting = waiter.lock('silent').acquire({ waitMs: 10_000 });
    await delay(100);
    const freed = performance.now();
    await raw.del(`${prefix}/lock/silent`); // freed without a notification
    const held = await waiting;
    expect(performance.now() - freed).toBeLessThan(3_000);
    await held.release();
  });

  it('a SUBSCRIBE sent while the subscriber connection is still connecting stays subscribed (no ready-check reconnect)', async () => {
    const raw = rawClient(server().url);
    const subscriber = subscriberFor(raw);
    const channel = `${freshPrefix()}/released/early`;
    let reconnects = 0;
    subscriber.on('reconnecting', () => reconnects++);
    try {
      // The 'connect' event comes after the socket connects and before any ready check: a
      // SUBSCRIBE written now reaches Redis ahead of an INFO, which subscriber mode refuses.
      const subscribed = new Promise<unknown>((resolve, reject) => {
        subscriber.once('connect', () => subscriber.subscribe(channel).then(resolve, reject));
      });
      const ready = new Promise<void>((resolve) => subscriber.once('ready', () => resolve()));
      void subscriber.connect().catch(() => {});
      await within(subscribed, 5_000, 'SUBSCRIBE');
      await within(ready, 5_000, 'ready');
      // One round trip on the same connection: had it dropped after the SUBSCRIBE, this would
      // either see no subscription or count a reconnect.
      await subscriber.ping();
      expect(await raw.pubsub('NUMSUB', channel)).toEqual([channel, 1]);
      expect(reconnects).toBe(0);
    } finally {
      subscriber.disconnect();
    }
  });

  it('listens on one subscriber connection per coordinator, however many locks it waits on', async () => {
    const prefix = freshPrefix();
    const holder = await open(server().url, { prefix });
    const waiter = await open(server().url, { prefix });
    const raw = rawClient(server().url);
    const subscribers = async () => {
      const list = String(await raw.client('LIST'));
      return list.split('\n').filter((line) => / name=lockstep-subscriber /.test(line)).length;
    };
    const before = await subscribers();
    const names = Array.from({ length: 20 }, (_, i) => `many-${i}`);
    const held = await Promise.all(names.map((n) => holder.lock(n).acquire()));
    const waits = names.map((n) => waiter.lock(n).acquire({ waitMs: 10_000 }));
    for (const w of waits) w.catch(() => {});
    const channels = () => raw.pubsub('CHANNELS', `${prefix}/released/*`) as Promise<string[]>;
    await eventually(async () => expect(await channels()).toHaveLength(20), 5_000);
    expect((await subscribers()) - before).toBe(1);
    await Promise.all(held.map((h) => h.release()));
    await Promise.all((await Promise.all(waits)).map((h) => h.release()));
  });

  it('aborts the signal at once when a renewal finds another owner, and never deletes its key', async () => {
    const prefix = freshPrefix();
    const coord = await open(server().url, { prefix });
    const raw = rawClient(server().url);
    const held = await coord.lock('stolen', { ttlMs: 300 }).acquire();
    const start = performance.now();
    await raw.set(`${prefix}/lock/stolen`, 'intruder', 'PX', 60_000);
    const abortMs = await within(abortedAfter(held.signal, start), 2_000, 'loss signal');
    expect(abortMs).toBeLessThan(250); // the next renewal, at ttl/3
    expect(held.signal.reason).toBeInstanceOf(LockLostError);
    expect((held.signal.reason as LockLostError).reason).toBe('stolen');
    expect(await held.release()).toBe(false);
    await expect(held.extend()).rejects.toBeInstanceOf(LockLostError);
    // Not re-acquired behind the user's back, not deleted, not extended.
    expect(await raw.get(`${prefix}/lock/stolen`)).toBe('intruder');
    expect(await raw.pttl(`${prefix}/lock/stolen`)).toBeLessThanOrEqual(60_000);
  });

  it('keeps renewing while Redis is unreachable, then aborts when the lease ends', async (context) => {
    requireProcessControl(context, server());
    const coord = await open(server().url, { prefix: freshPrefix(), commandTimeoutMs: 150 });
    const ttlMs = 900;
    const start = performance.now();
    const held = await coord.lock('unreachable', { ttlMs }).acquire();
    await server().pause();
    try {
      const abortMs = await within(abortedAfter(held.signal, start), 5_000, 'loss signal');
      expect((held.signal.reason as LockLostError).reason).toBe('unreachable');
      // Not before the lease could have ended (renewed at ~300 ms at the latest), not long after.
      expect(abortMs).toBeGreaterThanOrEqual(ttlMs - 5);
      expect(abortMs).toBeLessThan(ttlMs + 400);
    } finally {
      await server().resume();
    }
    expect(await held.release()).toBe(false);
  });

  it('a holder process paused past its lease: the next holder has a larger token, the old signal aborts on resume', async () => {
    const prefix = freshPrefix();
    const name = 'paused-holder';
    const holder = spawnHolder(`${server().url}?prefix=${prefix}`, name, 600);
    try {
      const oldToken = BigInt(await holder.next<string>('token'));
      holder.child.kill('SIGSTOP');
      const coord = await open(server().url, { prefix });
      const next = await coord.lock(name).acquire({ waitMs: 5_000 });
      expect(next.fencingToken > oldToken).toBe(true);
      holder.child.kill('SIGCONT');
      const lost = await holder.next<string>('lost', 10_000);
      expect(['expired', 'stolen']).toContain(lost);
      expect(await next.isHeld()).toBe(true); // the resumed process did not take it back
      await next.release();
    } finally {
      holder.kill();
    }
  });
});

describe('redis:// restart without persistence (the known single-node anomaly)', () => {
  const restartable = useRedisServer();

  it('lets a second holder in while the first still holds, and sets counters back; lockstep reports the loss and fencing still orders the holders', async (context) => {
    requireProcessControl(context, restartable.handle);
    const prefix = freshPrefix();
    const first = await open(restartable.handle.url, { prefix });
    const second = await open(restartable.handle.url, { prefix });
    const a = await first.lock('job', { ttlMs: 10_000 }).acquire();
    const counter = first.counter('jobs');
    const acknowledged: number[] = [];
    for (let i = 0; i < 20; i++) acknowledged.push(await counter.increment());
    await restartable.handle.kill(); // a crash: no persistence, so every key is gone
    await restartable.handle.restart();
    const restartedAt = performance.now();

    // The anomaly: B acquires the lock A never released and whose lease has not run out.
    let b: LockHandle | undefined;
    for (let i = 0; i < 50 && !b; i++) {
      b =
        (await second
          .lock('job', { ttlMs: 10_000 })
          .tryAcquire()
          .catch(() => null)) ?? undefined;
      if (!b) await delay(100);
    }
    expect(b, 'a second holder appeared after the restart').toBeDefined();
    const overlapObserved = a.signal.aborted === false;

    // lockstep does not hide it: A's handle learns it lost the lock as soon as its connection is back.
    const lostAfter = await within(abortedAfter(a.signal, restartedAt), 6_000, "A's loss signal");
    expect(a.signal.reason).toBeInstanceOf(LockLostError);
    // And the fencing order survives the lost fence key (tokens are floored at server time).
    expect(b!.fencingToken > a.fencingToken).toBe(true);
    expect(await a.release()).toBe(false);
    expect(await b!.isHeld()).toBe(true);

    // Counters go back too: twenty acknowledged increments are lost, and the next increments
    // return results that were already handed out before the restart.
    expect(acknowledged).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await counter.get()).toBe(0);
    const after = [await counter.increment(), await counter.increment(), await counter.increment()];
    expect(after).toEqual([1, 2, 3]);
    expect(after.every((value) => acknowledged.includes(value))).toBe(true);
    await context.annotate(
      `Redis restart without persistence: second holder granted ${overlapObserved ? 'while the first handle still believed it held the lock' : 'after the first handle had already been told'}; ` +
        `first handle's signal aborted ${Math.round(lostAfter)} ms after the restart (${(a.signal.reason as LockLostError).reason}); ` +
        `tokens ${a.fencingToken} → ${b!.fencingToken} (still increasing); ` +
        `a counter acknowledged at ${acknowledged.at(-1)} read 0, and its next increments returned ${after.join(', ')} again.`,
    );
    await b!.release();
  });
});

describe('redis:// counters', () => {
  it('enforces bounds atomically under concurrency; a violating call writes nothing', async () => {
    const prefix = freshPrefix();
    const coords = await Promise.all([1, 2, 3, 4].map(() => open(server().url, { prefix })));
    await coords[0]!.counter('stock').set(50);
    const results = await Promise.allSettled(
      Array.from({ length: 64 }, (_, i) => coords[i % 4]!.counter('stock', { min: 0 }).decrement()),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(50);
    expect(new Set(ok).size).toBe(50);
    expect(refused.every((r) => r.reason instanceof CounterBoundError)).toBe(true);
    expect(await coords[0]!.counter('stock').get()).toBe(0);
  });

  it('stays within the safe-integer range', async () => {
    const coord = await open(server().url, { prefix: freshPrefix() });
    const raw = rawClient(server().url);
    const c = coord.counter('big');
    await c.set(Number.MAX_SAFE_INTEGER - 1);
    expect(await c.increment()).toBe(Number.MAX_SAFE_INTEGER);
    const error = await c.increment(5).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CounterBoundError);
    expect(error).toMatchObject({ bound: 'max', limit: Number.MAX_SAFE_INTEGER });
    expect(await raw.get(`${coord.prefix}/counter/big`)).toBe(String(Number.MAX_SAFE_INTEGER));
    await c.set(Number.MIN_SAFE_INTEGER);
    await expect(c.decrement()).rejects.toMatchObject({ bound: 'min' });
  });

  it('coalesces concurrent increments into few scripts, each caller getting a distinct value', async () => {
    const coord = await open(server().url, { prefix: freshPrefix() });
    const raw = rawClient(server().url);
    const c = coord.counter('hits');
    await c.increment(); // load the script
    await raw.config('RESETSTAT');
    const values = await Promise.all(Array.from({ length: 64 }, () => c.increment()));
    expect(new Set(values).size).toBe(64);
    expect(Math.max(...values)).toBe(65);
    expect(await commandCalls(raw, 'evalsha')).toBeLessThan(8);
  });

  it('stores a plain integer that other Redis clients can read and INCRBY', async () => {
    const coord = await open(server().url, { prefix: freshPrefix() });
    const raw = rawClient(server().url);
    const c = coord.counter('shared');
    await c.increment(7);
    expect(await raw.incrby(`${coord.prefix}/counter/shared`, 3)).toBe(10);
    expect(await c.get()).toBe(10);
    expect(await c.compareAndSet(10, 11)).toBe(true);
    expect(await c.compareAndSet(10, 12)).toBe(false);
    expect(await c.get()).toBe(11);
  });

  it('keeps locks and counters of one name apart', async () => {
    const coord = await open(server().url, { prefix: freshPrefix() });
    const raw = rawClient(server().url);
    const held = await coord.lock('x').acquire();
    await coord.counter('x').increment();
    expect(await raw.get(`${coord.prefix}/counter/x`)).toBe('1');
    expect(await held.isHeld()).toBe(true);
    await held.release();
  });
});

describe('redis:// connections', () => {
  it('fails fast with BackendUnavailableError on a refused address', async () => {
    const { connect } = await import('@lockstep/core');
    const start = performance.now();
    const error = await connect('redis://127.0.0.1:1', { connectTimeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  it('gives up on a server that accepts but never answers within connectTimeoutMs', async (context) => {
    requireProcessControl(context, server());
    const { connect } = await import('@lockstep/core');
    await server().pause();
    try {
      const start = performance.now();
      const error = await connect(server().url, { connectTimeoutMs: 500 }).catch((e: unknown) => e);
      const took = performance.now() - start;
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(took).toBeGreaterThanOrEqual(450);
      expect(took).toBeLessThan(1_500);
    } finally {
      await server().resume();
    }
  });

  it('rejects malformed options before connecting', async () => {
    const { connect, InvalidArgumentError } = await import('@lockstep/core');
    await expect(connect('redis://127.0.0.1:1?commandTimeoutMs=-1')).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(connect('redis://127.0.0.1:1', { prefix: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect('redis://127.0.0.1:1/x')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("works over the application's own client and leaves it open on close", async () => {
    const client = new Redis(server().url);
    try {
      const coord = redisCoordinator(client, { prefix: freshPrefix() });
      const held = await coord.lock('own').acquire();
      expect(held.fencingToken > 0n).toBe(true);
      await coord.close();
      expect(await held.isHeld()).toBe(false); // close() released it
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });
});
