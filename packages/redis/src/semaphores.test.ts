/**
 * redis:// semaphores against a real redis-server: key layout and round trips, the FIFO queue
 * across coordinators, wake-ups that name only the waiters that fit, waits that leave the
 * queue, dead waiters and holders that lapse, tokens floored at the server clock, renewal and
 * loss of one permit, and why redlock:// has none.
 */
import {
  type Coordinator,
  InvalidArgumentError,
  type LockHandle,
  LockLostError,
  LockTimeoutError,
  UnsupportedError,
} from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { redlockCoordinator } from './index.js';
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
import { useRedisServer } from './test-support/servers.js';

const redis = useRedisServer();
const url = () => redis.handle.url;

/** `N` coordinators, as a tuple. */
type Coordinators<N extends number, T extends Coordinator[] = []> = T['length'] extends N
  ? T
  : Coordinators<N, [...T, Coordinator]>;

/** `n` coordinators (each its own connections) under `prefix`, closed when the test ends. */
async function openAll<N extends number>(prefix: string, n: N): Promise<Coordinators<N>> {
  const coords: Coordinator[] = [];
  for (let i = 0; i < n; i++) coords.push(await open(url(), { prefix }));
  return coords as Coordinators<N>;
}

/** The server's clock in ms, as the scripts read it. */
async function serverNowMs(raw: ReturnType<typeof rawClient>): Promise<number> {
  const [seconds, micros] = await raw.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** An acquire that records when it resolved; rejections are kept for the test to inspect. */
function timed(acquire: Promise<LockHandle>): { done: Promise<LockHandle>; at: () => number | undefined } {
  let at: number | undefined;
  const done = acquire.then((handle) => {
    at = performance.now();
    return handle;
  });
  done.catch(() => {});
  return { done, at: () => at };
}

describe('redis:// semaphores', () => {
  it('keeps permits in their own sorted sets, apart from the lock and counter of the same name, one EVALSHA per acquire', async () => {
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix });
    const raw = rawClient(url());
    const semaphore = coord.semaphore('jobs/x', { permits: 2 });
    await (await semaphore.acquire()).release(); // load the script
    await raw.config('RESETSTAT');
    const first = await semaphore.acquire();
    expect(await commandCalls(raw, 'evalsha')).toBe(1);
    // A permit is not the lock, and the lock not a permit: each is free beside the other.
    const lock = await coord.lock('jobs/x').tryAcquire();
    expect(lock).not.toBeNull();
    await coord.counter('jobs/x').increment();
    const second = await semaphore.tryAcquire();
    expect(second).not.toBeNull();
    const now = await serverNowMs(raw);

    const holders = await raw.zrange(`${prefix}/sem/jobs%2Fx`, 0, -1, 'WITHSCORES');
    expect(holders).toHaveLength(4);
    for (const [i, value] of holders.entries()) {
      if (i % 2 === 0) expect(value).toMatch(/^[0-9a-f]{32}$/);
      // Scored by the lease deadline: about now + the default 15 s.
      else expect(Number(value) - now).toBeGreaterThan(14_000);
    }
    // Each holder's declared count, beside it.
    for (const owner of [holders[0]!, holders[2]!]) {
      expect(await raw.zscore(`${prefix}/sem-limits/jobs%2Fx`, owner)).toBe('2');
    }
    expect(await raw.zcard(`${prefix}/sem-limits/jobs%2Fx`)).toBe(2);
    expect(await raw.get(`${prefix}/sem-fence/jobs%2Fx`)).toBe(String(second!.fencingToken));
    expect(await raw.get(`${prefix}/lock/jobs%2Fx`)).toMatch(/^[0-9a-f]{32}$/);
    expect(await raw.get(`${prefix}/fence/jobs%2Fx`)).toBe(String(lock!.fencingToken));
    expect(await raw.get(`${prefix}/counter/jobs%2Fx`)).toBe('1');

    expect(await first.release()).toBe(true);
    expect(await raw.zcard(`${prefix}/sem/jobs%2Fx`)).toBe(1);
    expect(await first.release()).toBe(false);
    expect(await second!.isHeld()).toBe(true);
    await lock!.release();
  });

  it('grants in arrival order across coordinators, and the releaser coming back queues behind the waiters', async () => {
    const prefix = freshPrefix();
    const [h, a, b] = await openAll(prefix, 3);
    const raw = rawClient(url());
    const queue = () => raw.zcard(`${prefix}/sem-queue/fifo`);
    const sem = (coord: Coordinator) => coord.semaphore('fifo', { permits: 1 });
    let held = await sem(h).acquire();
    const order: string[] = [];
    const waiters = new Map<string, Promise<LockHandle>>();
    for (const [who, coord] of [
      ['a1', a],
      ['b1', b],
      ['a2', a],
    ] as const) {
      const before = await queue();
      waiters.set(
        who,
        sem(coord)
          .acquire({ waitMs: 20_000 })
          .then((handle) => {
            order.push(who);
            return handle;
          }),
      );
      await eventually(async () => expect(await queue()).toBe(before + 1));
    }
    await held.release();
    waiters.set(
      'h',
      sem(h)
        .acquire({ waitMs: 20_000 })
        .then((handle) => {
          order.push('h');
          return handle;
        }),
    );
    for (const who of ['a1', 'b1', 'a2', 'h']) {
      held = await waiters.get(who)!;
      expect(order.at(-1)).toBe(who);
      await held.release();
    }
    expect(order).toEqual(['a1', 'b1', 'a2', 'h']);
    expect(await queue()).toBe(0);
  }, 30_000);

  it('nobody passes a waiter that does not fit: a larger count waits behind a head declaring a smaller one', async () => {
    const prefix = freshPrefix();
    const [h, a, b] = await openAll(prefix, 3);
    const raw = rawClient(url());
    const queue = () => raw.zcard(`${prefix}/sem-queue/mixed`);
    const held = await h.semaphore('mixed', { permits: 3 }).acquire();
    // One holder: a head declaring 1 does not fit; a newcomer declaring 3 would, but waits behind it.
    const head = timed(a.semaphore('mixed', { permits: 1 }).acquire({ waitMs: 20_000 }));
    await eventually(async () => expect(await queue()).toBe(1));
    expect(await b.semaphore('mixed', { permits: 3 }).tryAcquire()).toBeNull();
    const behind = timed(b.semaphore('mixed', { permits: 3 }).acquire({ waitMs: 20_000 }));
    await eventually(async () => expect(await queue()).toBe(2));
    await held.release();
    const alone = await head.done;
    await delay(100);
    expect(behind.at()).toBeUndefined();
    await alone.release();
    await (await behind.done).release();
    expect(behind.at()! > head.at()!).toBe(true);
  }, 30_000);

  it('a release wakes only the waiters that fit: each grant costs its release and one attempt', async () => {
    const prefix = freshPrefix();
    const [holders, ...coords] = await openAll(prefix, 5);
    const raw = rawClient(url());
    const waiters = 40;
    const first = await Promise.all(
      [0, 1].map(() => holders.semaphore('wake', { permits: 2, ttlMs: 30_000 }).acquire()),
    );
    const done = Array.from({ length: waiters }, (_, i) =>
      coords[i % coords.length]!.semaphore('wake', { permits: 2, ttlMs: 30_000 })
        .acquire({ waitMs: 60_000 })
        .then((held) => held.release()),
    );
    await eventually(async () => expect(await raw.zcard(`${prefix}/sem-queue/wake`)).toBe(waiters));
    // Not synchronisation: waiters that joined together re-check together (250 ms, doubling to
    // 2 s); after 4.5 s their re-checks are 2 s apart, so few fall within the drain below.
    await delay(4_500);
    await raw.config('RESETSTAT');
    await Promise.all(first.map((held) => held.release()));
    await Promise.all(done);
    const scripts = await commandCalls(raw, 'evalsha');
    // Each grant: the woken waiter's attempt and its release; plus the two first releases.
    const wasted = scripts - 2 - 2 * waiters;
    console.log(
      `${waiters} waiters in 4 coordinators on 2 permits: ${scripts} scripts, ${wasted} refused attempts`,
    );
    expect(wasted / waiters).toBeLessThan(0.5);
  }, 60_000);

  it('a wait that times out or is aborted leaves the queue; the next waiter is woken without waiting for its re-check', async () => {
    const prefix = freshPrefix();
    const [h, a, b] = await openAll(prefix, 3);
    const raw = rawClient(url());
    const queued = async () =>
      [await raw.exists(`${prefix}/sem-queue/leave`), await raw.exists(`${prefix}/sem-waiting/leave`)].join(
        ',',
      );
    const sem = (coord: Coordinator) => coord.semaphore('leave', { permits: 1 });
    const held = await sem(h).acquire();

    await expect(sem(a).acquire({ waitMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await queued()).toBe('0,0');
    const stop = new AbortController();
    const aborted = sem(a).acquire({ signal: stop.signal });
    await eventually(async () => expect(await raw.zcard(`${prefix}/sem-queue/leave`)).toBe(1));
    stop.abort(new Error('changed my mind'));
    await expect(aborted).rejects.toThrow('changed my mind');
    expect(await queued()).toBe('0,0');

    // The head leaves just as the release names it: the permit still reaches the next waiter at once.
    const head = new AbortController();
    const first = sem(a).acquire({ signal: head.signal });
    first.catch(() => {});
    await eventually(async () => expect(await raw.zcard(`${prefix}/sem-queue/leave`)).toBe(1));
    const next = timed(sem(b).acquire({ waitMs: 20_000 }));
    await eventually(async () => expect(await raw.zcard(`${prefix}/sem-queue/leave`)).toBe(2));
    // Past the next waiter's first re-check (250 ms); its second is 500 ms later.
    await delay(400);
    await held.release();
    head.abort(new Error('gone'));
    const leftAt = performance.now();
    await first.then(
      (permit) => permit.release(),
      () => {},
    );
    const permit = await next.done;
    expect(next.at()! - leftAt).toBeLessThan(200);
    await permit.release();
    expect(await queued()).toBe('0,0');
  }, 30_000);

  it('a waiter that died holds its place only until its registration lapses', async () => {
    const prefix = freshPrefix();
    const [h, b] = await openAll(prefix, 2);
    const raw = rawClient(url());
    const held = await h.semaphore('dead', { permits: 1 }).acquire();
    // A waiter that crashed: at the head of the queue, registered for one more second.
    const lapsesAt = (await serverNowMs(raw)) + 1_000;
    await raw.zadd(`${prefix}/sem-queue/dead`, 0, 'f'.repeat(32));
    await raw.zadd(`${prefix}/sem-waiting/dead`, lapsesAt, 'f'.repeat(32));
    const started = performance.now();
    const next = timed(b.semaphore('dead', { permits: 1 }).acquire({ waitMs: 20_000 }));
    await eventually(async () => expect(await raw.zcard(`${prefix}/sem-queue/dead`)).toBe(2));
    await held.release();
    await delay(300);
    expect(next.at()).toBeUndefined(); // the dead head still has its place
    const permit = await next.done;
    const after = next.at()! - started;
    // After the registration lapsed, at the waiter's next re-check (they double up to 2 s).
    expect(after).toBeGreaterThanOrEqual(900);
    expect(after).toBeLessThan(4_000);
    expect(await raw.zscore(`${prefix}/sem-queue/dead`, 'f'.repeat(32))).toBeNull();
    await permit.release();
  }, 30_000);

  it('a waiter re-checks when an abandoned lease ends (an expiry publishes nothing), not at its next fallback', async () => {
    const prefix = freshPrefix();
    const [h, w] = await openAll(prefix, 2);
    const stalled = await h.semaphore('lapse', { permits: 1, ttlMs: 1_200, autoExtend: false }).acquire();
    const started = performance.now();
    const permit = await w.semaphore('lapse', { permits: 1 }).acquire({ waitMs: 10_000 });
    const after = performance.now() - started;
    // Fallback re-checks come at 250, 750 and 1,750 ms; the lease ends at 1,200 ms.
    expect(after).toBeGreaterThanOrEqual(1_100);
    expect(after).toBeLessThan(1_600);
    expect(stalled.signal.aborted).toBe(true);
    expect(await stalled.release()).toBe(false);
    await permit.release();
  }, 30_000);

  it('keeps tokens increasing when the fencing state is lost (a fresh counter starts at the server clock)', async () => {
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix });
    const raw = rawClient(url());
    const sem = coord.semaphore('fence', { permits: 2 });
    const before = await sem.acquire();
    await before.release();
    await raw.del(`${prefix}/sem-fence/fence`);
    const after = await sem.acquire();
    expect(after.fencingToken > before.fencingToken).toBe(true);
    // µs since 1970.
    expect(after.fencingToken > 1_000_000_000_000_000n).toBe(true);
    await after.release();
  });

  it('renews only its own entry; a permit whose entry was removed is lost at its next renewal', async () => {
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix });
    const raw = rawClient(url());
    const key = `${prefix}/sem/renew`;
    const mine = await coord.semaphore('renew', { permits: 2, ttlMs: 600 }).acquire();
    const [owner] = await raw.zrange(key, 0, -1);
    const other = await coord.semaphore('renew', { permits: 2, ttlMs: 60_000 }).acquire();
    const otherScore = await raw.zscore(key, (await raw.zrange(key, 0, -1)).find((m) => m !== owner)!);

    await mine.extend(5_000);
    const extendedTo = Number(await raw.zscore(key, owner!)) - (await serverNowMs(raw));
    expect(extendedTo).toBeGreaterThan(4_000);
    expect(extendedTo).toBeLessThanOrEqual(5_000);

    const start = performance.now();
    await raw.zrem(key, owner!);
    await expect(mine.extend()).rejects.toBeInstanceOf(LockLostError);
    await within(abortedAfter(mine.signal, start), 2_000, 'loss signal');
    expect(mine.signal.reason).toBeInstanceOf(LockLostError);
    expect(await mine.release()).toBe(false);
    // The other holder's entry was neither extended nor removed.
    expect(await raw.zscore(key, (await raw.zrange(key, 0, -1))[0]!)).toBe(otherScore);
    expect(await other.isHeld()).toBe(true);
    await other.release();
  });

  it('notices a permit gone from the server as soon as the connection comes back', async () => {
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix });
    const raw = rawClient(url());
    const held = await coord.semaphore('reconnect', { permits: 1, ttlMs: 30_000 }).acquire();
    await raw.del(`${prefix}/sem/reconnect`);
    const start = performance.now();
    await raw.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    // Its renewal is 10 s away: only the check after the reconnect can see the loss this soon.
    const abortMs = await within(abortedAfter(held.signal, start), 5_000, 'loss signal');
    expect(abortMs).toBeLessThan(5_000);
    expect(held.signal.reason).toBeInstanceOf(LockLostError);
  });

  it('validates a native key before any I/O', async () => {
    const coord = await open(url(), { prefix: freshPrefix() });
    expect(() => coord.semaphore('x', { permits: 2, native: 42n })).toThrow(InvalidArgumentError);
    expect(() => coord.semaphore('x', { permits: 2, native: '' })).toThrow(InvalidArgumentError);
  });

  it('redlock:// has no semaphores, read-write locks or elections, and says why', async () => {
    const raw = rawClient(url());
    const coord = redlockCoordinator([raw]);
    try {
      const cases = [
        [
          coord.capabilities.semaphore,
          () => coord.semaphore('x', { permits: 2 }),
          /three clients can each hold a different pair/,
        ],
        [
          coord.capabilities.readWrite,
          () => coord.readWriteLock('x'),
          /independent servers keep independent queues/,
        ],
        [coord.capabilities.election, () => coord.election('x'), /term must strictly increase/],
      ] as const;
      for (const [support, open, reason] of cases) {
        expect(support).toMatchObject({ supported: false });
        expect(open).toThrow(UnsupportedError);
        expect(open).toThrow(reason);
      }
    } finally {
      await coord.close();
    }
  });
});
