/**
 * consul:// semaphores against the server from @lockstep/testing (here: the Consul HTTP API
 * emulator, and every title says so): the api/semaphore.go key layout, round trips, arrival order
 * across coordinators, permits handed over by the release itself, sessions per permit, crashed and
 * lost holders, and nothing left behind.
 */
import { InvalidArgumentError, type LockHandle, LockTimeoutError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import type { ConsulCoordinatorOptions } from './index.js';
import { SEMAPHORE_FLAG_VALUE } from './native.js';
import {
  abortedWithin,
  counted as countedCoordinator,
  eventually,
  freshPrefix,
  open,
} from './test-support/helpers.js';
import { RawConsul } from './test-support/raw.js';
import { MIN_TTL_MS, SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';
import { ApiSemaphore } from './testing/api-semaphore.js';

const consul = useConsul();
const raw = () => new RawConsul(consul().httpUrl);
/** Tokens are the granting write's index × 2^20 + the grant's rank in that write. */
const RANKS = 1n << 20n;

/** A coordinator on the test server (sessions down to MIN_TTL_MS) whose requests are recorded. */
const counted = (options: Partial<ConsulCoordinatorOptions> = {}) =>
  countedCoordinator(consul().httpUrl, MIN_TTL_MS, options);

/** The contender keys (not `.lock`) under a semaphore's prefix. */
async function contenders(prefix: string): Promise<string[]> {
  return (await raw().list(`${prefix}/`)).map((e) => e.Key).filter((key) => !key.endsWith('/.lock'));
}

describe.skipIf(SKIP_REASON !== undefined)(`consul:// semaphores (${SERVER_LABEL})`, () => {
  it(`takes a permit in two /v1/txn requests at <prefix>/semaphore/<name>/, laid out as api/semaphore.go does, and leaves nothing behind (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const { coord, counting } = counted({ prefix });
    const semaphore = coord.semaphore('exports €', { permits: 2, ttlMs: MIN_TTL_MS });
    await (await semaphore.acquire()).release(); // creates the session
    counting.reset();
    const permit = await semaphore.acquire();
    expect(counting.work()).toEqual(['PUT /v1/txn', 'PUT /v1/txn']);
    const at = `${prefix}/semaphore/exports,20,E2,82,AC`;
    const [contender, lock] = [...(await raw().list(`${at}/`))].sort((a, b) => (a.Key < b.Key ? 1 : -1));
    expect(lock?.Key).toBe(`${at}/.lock`);
    expect(lock?.Flags).toBe(SEMAPHORE_FLAG_VALUE);
    expect(JSON.parse(lock!.Value)).toEqual({ Limit: 2, Holders: { [contender!.Session!]: true } });
    expect(contender?.Key).toBe(`${at}/${contender?.Session}`);
    expect(contender?.Flags).toBe(SEMAPHORE_FLAG_VALUE);
    expect(contender?.Value).toMatch(/^holding [0-9a-f]{32} 2 0$/);
    // The token: the granting write's index (the contender's and .lock's ModifyIndex), rank 0.
    expect(permit.fencingToken).toBe(lock!.ModifyIndex * RANKS);
    expect(contender?.ModifyIndex).toBe(lock?.ModifyIndex);
    counting.reset();
    expect(await permit.release()).toBe(true);
    expect(counting.work()).toEqual(['PUT /v1/txn']);
    // Admitted alone and nobody admitted since: the release deleted .lock too.
    expect(await raw().list(`${at}/`)).toEqual([]);
  });

  it(`keeps semaphore x, lock x and counter x apart (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const permit = await coord.semaphore('x', { permits: 1, ttlMs: MIN_TTL_MS }).acquire();
    const lock = await coord.lock('x', { ttlMs: MIN_TTL_MS }).tryAcquire();
    expect(lock).not.toBeNull();
    await coord.counter('x').increment();
    const keys = await raw().keys(`${prefix}/`);
    expect(keys.filter((k) => k.startsWith(`${prefix}/semaphore/x/`))).toHaveLength(2);
    expect(keys).toContain(`${prefix}/lock/x`);
    expect(keys).toContain(`${prefix}/counter/x`);
    await lock?.release();
    await permit.release();
  });

  it(`uses one session per concurrent permit of ONE semaphore, and shares sessions across semaphores and with locks (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const sem = (name: string) => coord.semaphore(name, { permits: 3, ttlMs: MIN_TTL_MS });
    const held: LockHandle[] = [];
    for (let i = 0; i < 3; i++) held.push(await sem('a').acquire());
    held.push(await sem('b').acquire(), await coord.lock('l', { ttlMs: MIN_TTL_MS }).acquire());
    const sessionsOf = async (name: string) =>
      (await raw().list(`${prefix}/semaphore/${name}/`)).flatMap((e) => (e.Session ? [e.Session] : []));
    const a = await sessionsOf('a');
    expect(new Set(a).size).toBe(3);
    const [b] = await sessionsOf('b');
    expect(a).toContain(b);
    expect((await raw().get(`${prefix}/lock/l`))?.Session).toBe(b);
    for (const handle of held) await handle.release();
  });

  it(`grants waiters of several coordinators in arrival order (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coords = await Promise.all([0, 1, 2, 3].map(() => open(consul().url, { prefix })));
    const sem = (i: number) =>
      coords[i % coords.length]!.semaphore('fifo', { permits: 2, ttlMs: MIN_TTL_MS });
    const at = `${prefix}/semaphore/fifo`;
    // One permit stays held throughout, so the other one goes round the waiters one at a time.
    const steady = await sem(0).acquire();
    const first = await sem(1).acquire();
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let arrival = 0; arrival < 8; arrival++) {
      waiters.push(
        sem(arrival + 1)
          .acquire({ waitMs: 30_000 })
          .then(async (permit) => {
            order.push(arrival);
            await permit.release();
          }),
      );
      // Arrived: its contender is queued (the next one's CreateIndex will be larger).
      await eventually(async () => (await contenders(at)).length === arrival + 3, 5_000);
    }
    await first.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await steady.release();
  });

  it(`hands a released permit to the waiter in the release itself: the waiter sends no request to get it (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const { coord: holder, counting: holderSent } = counted({ prefix });
    const { coord: waiter, counting } = counted({ prefix });
    const at = `${prefix}/semaphore/handover`;
    /** Whether the holder's blocking query on the prefix has had an answer as new as `index`. */
    const holderSaw = (index: bigint) =>
      holderSent.calls.some((c) => {
        const asked = new URLSearchParams(c.query).get('index');
        return c.path === `/v1/kv/${at}/` && asked !== null && BigInt(asked) >= index;
      });
    for (let round = 0; round < 4; round++) {
      const held = await holder.semaphore('handover', { permits: 1, ttlMs: MIN_TTL_MS }).acquire();
      const waiting = waiter
        .semaphore('handover', { permits: 1, ttlMs: MIN_TTL_MS })
        .acquire({ waitMs: 10_000 });
      await eventually(async () => (await contenders(at)).length === 2, 5_000);
      const [joined = 0n] = (await raw().list(`${at}/`))
        .map((e) => e.ModifyIndex)
        .sort((x, y) => (x < y ? 1 : -1));
      // The holder learns of the waiter from its own blocking query on the prefix: once it blocks
      // from an index at least the waiter's join, its last answer listed the waiter.
      await eventually(() => holderSaw(joined), 5_000);
      counting.reset();
      expect(await held.release()).toBe(true);
      const permit = await waiting;
      expect(counting.count('PUT', '/v1/txn')).toBe(0);
      const [own] = (await raw().list(`${at}/`)).filter((e) => !e.Key.endsWith('/.lock'));
      expect(own?.Value).toMatch(/^holding [0-9a-f]{32} 1 0$/);
      expect(permit.fencingToken).toBe(own!.ModifyIndex * RANKS);
      expect(permit.fencingToken > held.fencingToken).toBe(true);
      await permit.release();
      holderSent.reset();
    }
  });

  it(`grants every free permit with one write when they come free together, each with its own token (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b, c] = [
      await open(consul().url, { prefix }),
      await open(consul().url, { prefix }),
      await open(consul().url, { prefix }),
    ];
    const at = `${prefix}/semaphore/batch`;
    const sem = (coord: typeof a) => coord.semaphore('batch', { permits: 3, ttlMs: MIN_TTL_MS });
    const blockers = [await sem(a).acquire(), await sem(a).acquire(), await sem(a).acquire()];
    const waiting = [sem(b).acquire({ waitMs: 10_000 }), sem(c).acquire({ waitMs: 10_000 })];
    await eventually(async () => (await contenders(at)).length === 5, 5_000);
    // Two holders leave in ONE transaction of an operator (their contenders deleted together).
    const holding = (await raw().list(`${at}/`)).filter((e) => e.Value.startsWith('holding '));
    expect(holding).toHaveLength(3);
    const gone = holding.slice(0, 2);
    const ops = gone.map((e) => ({ KV: { Verb: 'delete', Key: e.Key } }));
    const res = await fetch(`${consul().httpUrl}/v1/txn`, { method: 'PUT', body: JSON.stringify(ops) });
    expect(res.status).toBe(200);
    const granted = await Promise.all(waiting);
    const tokens = granted.map((p) => p.fencingToken);
    expect(tokens[0]).not.toBe(tokens[1]);
    // One write granted both: the same index, ranks 0 and 1.
    expect(tokens[0]! / RANKS).toBe(tokens[1]! / RANKS);
    expect(new Set(tokens.map((t) => t % RANKS))).toEqual(new Set([0n, 1n]));
    for (const permit of [...granted, ...blockers]) await permit.release();
  });

  it(`leaves no contender behind when a wait times out or is aborted (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const at = `${prefix}/semaphore/w`;
    const held = await a.semaphore('w', { permits: 1, ttlMs: MIN_TTL_MS }).acquire();
    const sem = b.semaphore('w', { permits: 1, ttlMs: MIN_TTL_MS });
    await expect(sem.acquire({ waitMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await contenders(at)).toHaveLength(1);
    const controller = new AbortController();
    const aborted = sem.acquire({ signal: controller.signal });
    await eventually(async () => (await contenders(at)).length === 2, 5_000);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(await contenders(at)).toHaveLength(1);
    expect(await sem.tryAcquire()).toBeNull();
    expect(await contenders(at)).toHaveLength(1); // a refused tryAcquire leaves its queue place too
    await held.release();
    const next = await sem.tryAcquire();
    expect(next).not.toBeNull();
    await next?.release();
    expect(await raw().list(`${at}/`)).toEqual([]);
  });

  it(`gives a crashed holder's permit back when Consul ends its session, and prunes it from .lock (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const at = `${prefix}/semaphore/crash`;
    const held = await a.semaphore('crash', { permits: 1, ttlMs: MIN_TTL_MS }).acquire();
    const [contender] = await raw()
      .list(`${at}/`)
      .then((es) => es.filter((e) => !e.Key.endsWith('/.lock')));
    const waiting = b.semaphore('crash', { permits: 1, ttlMs: MIN_TTL_MS }).acquire({ waitMs: 10_000 });
    await raw().destroySession(contender!.Session!); // what Consul does when the holder stops renewing
    const next = await waiting;
    await abortedWithin(held.signal, 3_000);
    const lock = (await raw().list(`${at}/`)).find((e) => e.Key.endsWith('/.lock'));
    expect(Object.keys(JSON.parse(lock!.Value).Holders)).not.toContain(contender!.Session);
    expect(await held.release()).toBe(false);
    expect(await next.isHeld()).toBe(true);
    await next.release();
  });

  it(`notices a permit whose contender an operator deleted: isHeld() false, signal aborted (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const at = `${prefix}/semaphore/op`;
    const held = await coord.semaphore('op', { permits: 2, ttlMs: MIN_TTL_MS }).acquire();
    const [key] = await contenders(at);
    await raw().delete(key!);
    expect(await held.isHeld()).toBe(false);
    expect(held.signal.aborted).toBe(true);
    expect(await held.release()).toBe(false);
  });

  it(`stores the count while in use (rule 'stored'), and takes a new one once nobody holds (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const held = await a.semaphore('limit', { permits: 3, ttlMs: MIN_TTL_MS }).acquire();
    await expect(b.semaphore('limit', { permits: 2, ttlMs: MIN_TTL_MS }).tryAcquire()).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(
      b.semaphore('limit', { permits: 2, ttlMs: MIN_TTL_MS }).acquire({ waitMs: 1_000 }),
    ).rejects.toThrow(/in use with 3 permits/);
    expect(await contenders(`${prefix}/semaphore/limit`)).toHaveLength(1);
    await held.release();
    const now = await b.semaphore('limit', { permits: 2, ttlMs: MIN_TTL_MS }).acquire({ waitMs: 1_000 });
    await now.release();
  });

  it(`a session queueing again takes its earlier permit out of .lock, so api/semaphore.go clients count the slot free (${SERVER_LABEL})`, async () => {
    // api/semaphore.go counts every holder in .lock whose session holds any key under the prefix.
    // A plain release leaves our session there (deleting the contender is the release); queueing
    // again with that session would make Go clients count a slot nobody holds, and wait behind a
    // lockstep waiter that waits behind them.
    const at = `${freshPrefix()}/native-semaphore`;
    const coord = await open(consul().url);
    const semaphore = coord.semaphore('jobs', { permits: 2, native: at, ttlMs: MIN_TTL_MS });
    const sessionTtl = `${MIN_TTL_MS / 1000}s`;
    const go = new ApiSemaphore({ httpUrl: consul().httpUrl, prefix: at, limit: 2, sessionTtl });
    await go.acquire();
    const permit = await semaphore.acquire();
    const ourKey = (await contenders(at)).find((key) => !key.endsWith(`/${go.session}`))!;
    const ourSession = ourKey.slice(at.length + 1);
    // A Go contender that waits (not in Holders), ahead of our next request.
    const waiter = await raw().createSession({ TTL: sessionTtl, Behavior: 'delete' });
    expect(await raw().put(`${at}/${waiter}`, '', `?acquire=${waiter}&flags=${SEMAPHORE_FLAG_VALUE}`)).toBe(
      true,
    );
    expect(await permit.release()).toBe(true);
    const holders = async () =>
      Object.keys(JSON.parse((await raw().get(`${at}/.lock`))!.Value).Holders).sort();
    expect(await holders()).toEqual([go.session, ourSession].sort()); // the plain release's leftover

    const again = semaphore.acquire({ waitMs: 5_000 });
    await eventually(async () => (await raw().get(ourKey))?.Value.startsWith('queued') ?? false, 2_000);
    // Queued behind the Go waiter with the same session: no longer counted by Go clients either.
    expect(await holders()).toEqual([go.session]);
    await raw().delete(`${at}/${waiter}`);
    await (await again).release();
    await go.release();
    await coord.close();
  });

  it(`refuses more than 2^20 permits and TTLs past a day before any request (${SERVER_LABEL})`, async () => {
    const { coord, counting } = counted();
    await expect(coord.semaphore('x', { permits: 2 ** 20 + 1 }).tryAcquire()).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(coord.semaphore('x', { permits: 2, ttlMs: 86_400_001 }).acquire()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(counting.calls).toHaveLength(0);
    expect(coord.capabilities.semaphore).toMatchObject({
      supported: true,
      fencing: 'monotonic',
      lease: 'per-session',
      waiting: 'notify',
      fairness: 'fifo',
      mismatch: 'stored',
    });
  });
});
