/**
 * consul:// locks against the server from @lockstep/testing (here: the Consul HTTP API emulator,
 * and every title says so): round trips, key layout, fencing, local exclusion, waiting, lock-delay,
 * loss and release safety.
 */
import { type LockHandle, LockLostError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import type { ConsulCoordinatorOptions } from './index.js';
import { lockKey } from './keys.js';
import {
  abortedWithin,
  counted as countedCoordinator,
  delay,
  freshPrefix,
  open,
} from './test-support/helpers.js';
import { RawConsul } from './test-support/raw.js';
import { IS_EMULATOR, MIN_TTL_MS, SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';

const consul = useConsul();
const raw = () => new RawConsul(consul().httpUrl);
const keyOf = (prefix: string, name: string) => lockKey({ name, prefix, segment: '', prefixSegment: '' });

/** A coordinator on the test server (sessions down to MIN_TTL_MS) whose requests are recorded. */
const counted = (options: Partial<ConsulCoordinatorOptions> = {}) =>
  countedCoordinator(consul().httpUrl, MIN_TTL_MS, options);

describe.skipIf(SKIP_REASON !== undefined)(`consul:// locks (${SERVER_LABEL})`, () => {
  it(`acquires in ONE /v1/txn request once the session exists, at <prefix>/lock/<name> (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const { coord, counting } = counted({ prefix });
    const lock = coord.lock('invoice/42 €', { ttlMs: MIN_TTL_MS });
    await (await lock.acquire()).release(); // creates the session
    counting.reset();
    const held = await lock.acquire();
    expect(counting.work()).toEqual(['PUT /v1/txn']);
    const key = keyOf(prefix, 'invoice/42 €');
    expect(key).toBe(`${prefix}/lock/invoice,2F42,20,E2,82,AC`);
    const entry = await raw().get(key);
    expect(entry?.Session).toMatch(/^[0-9a-f-]{36}$/);
    expect(entry?.Value).toMatch(/^[0-9a-f]{32}$/);
    expect(entry?.ModifyIndex).toBe(held.fencingToken);
    counting.reset();
    expect(await held.release()).toBe(true);
    expect(counting.work()).toEqual(['PUT /v1/txn']);
    expect(await raw().get(key)).toBeUndefined(); // released keys are deleted: nothing left behind
  });

  it(`creates one session per coordinator and TTL: TTL = lock ttl, Behavior delete, LockDelay 0 (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const a = await coord.lock('a', { ttlMs: MIN_TTL_MS }).acquire();
    const b = await coord.lock('b', { ttlMs: MIN_TTL_MS }).acquire();
    const c = await coord.lock('c', { ttlMs: MIN_TTL_MS * 2 }).acquire();
    const sessionOf = async (name: string) => (await raw().get(keyOf(prefix, name)))?.Session as string;
    expect(await sessionOf('a')).toBe(await sessionOf('b'));
    expect(await sessionOf('c')).not.toBe(await sessionOf('a'));
    const info = await raw().sessionInfo(await sessionOf('c'));
    expect(info?.TTL).toBe(`${(MIN_TTL_MS * 2) / 1000}s`);
    expect(info?.Behavior).toBe('delete');
    expect(info?.LockDelay).toBe(0);
    for (const h of [a, b, c]) await h.release();
  });

  it(`issues strictly increasing fencing tokens (ModifyIndex) across coordinators and re-grants (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const tokens: bigint[] = [];
    for (let i = 0; i < 8; i++) {
      const held = await (i % 3 === 0 ? a : b).lock('fenced', { ttlMs: MIN_TTL_MS }).acquire();
      tokens.push(held.fencingToken);
      // Unrelated writes in between must not matter: the token is a global Raft index.
      await raw().put(`${prefix}/noise`, String(i));
      await held.release();
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
  });

  it(`keeps two handles of ONE coordinator apart although Consul's acquire is re-entrant per session (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const { coord, counting } = counted({ prefix });
    const lock = coord.lock('mine', { ttlMs: MIN_TTL_MS });
    const held = await lock.acquire();
    counting.reset();
    expect(await lock.tryAcquire()).toBeNull();
    expect(counting.calls).toHaveLength(0); // decided locally, no request
    const waiting = lock.acquire({ waitMs: 5_000 });
    await delay(100);
    const released = performance.now();
    expect(await held.release()).toBe(true);
    const next = await waiting;
    expect(performance.now() - released).toBeLessThan(1_000);
    expect(next.fencingToken > held.fencingToken).toBe(true);
    // The stale handle cannot release the new holder's lock, although both used the same session.
    expect(await held.release()).toBe(false);
    expect(await next.isHeld()).toBe(true);
    await next.release();
  });

  it(`wakes a waiter through its blocking query within a few round trips of the release, without polling (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const holder = await open(consul().url, { prefix });
    const { coord: waiter, counting } = counted({ prefix });
    const lags: number[] = [];
    for (let round = 0; round < 4; round++) {
      const held = await holder.lock('handoff', { ttlMs: MIN_TTL_MS }).acquire();
      counting.reset();
      const waiting = waiter.lock('handoff', { ttlMs: MIN_TTL_MS }).acquire({ waitMs: 10_000 });
      await delay(600);
      // While it waits: its attempts (the first, plus core's safety re-check 250 ms later), one
      // diagnosis read each, and ONE blocking query that starts from the first read's index.
      const attempts = counting.count('PUT', '/v1/txn');
      expect(attempts).toBeLessThanOrEqual(2);
      expect(counting.count('GET', /^\/v1\/kv\//)).toBe(attempts + 1);
      const released = performance.now();
      await held.release();
      const got = await waiting;
      lags.push(performance.now() - released);
      await got.release();
    }
    lags.sort((x, y) => x - y);
    expect(lags[1]!).toBeLessThan(200);
  });

  it(`honours waitMs and AbortSignal while waiting on the blocking query, leaving nothing behind (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const held = await a.lock('w', { ttlMs: MIN_TTL_MS }).acquire();
    const started = performance.now();
    await expect(b.lock('w', { ttlMs: MIN_TTL_MS }).acquire({ waitMs: 300 })).rejects.toMatchObject({
      code: 'LOCK_TIMEOUT',
    });
    expect(performance.now() - started).toBeLessThan(1_500);
    const controller = new AbortController();
    const aborted = b.lock('w', { ttlMs: MIN_TTL_MS }).acquire({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 100);
    await expect(aborted).rejects.toThrow('stop');
    expect((await raw().get(keyOf(prefix, 'w')))?.Session).toBeDefined();
    await held.release();
    const next = await b.lock('w', { ttlMs: MIN_TTL_MS }).tryAcquire();
    expect(next).not.toBeNull();
    await next?.release();
  });

  it(`refuses TTLs outside the session range before any request (${SERVER_LABEL})`, async () => {
    const { coord, counting } = counted();
    expect(() => coord.lock('x', { ttlMs: MIN_TTL_MS - 1_000 })).toThrow(/ttlMs/);
    await expect(coord.lock('x', { ttlMs: 86_400_001 }).tryAcquire()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(counting.calls).toHaveLength(0);
    expect(coord.capabilities.lock).toMatchObject({
      fencing: 'monotonic',
      lease: 'per-session',
      minTtlMs: MIN_TTL_MS,
      ttlGranularityMs: 1000,
    });
  });

  it(`sends the ACL token on every request and the datacenter as ?dc= (${SERVER_LABEL})`, async () => {
    const { coord, counting } = counted({ token: 'secret-token', datacenter: 'dc1' });
    await (await coord.lock('t', { ttlMs: MIN_TTL_MS }).acquire()).release();
    await coord.counter('t').increment();
    expect(counting.calls.length).toBeGreaterThan(2);
    for (const call of counting.calls) {
      expect(call.headers['X-Consul-Token']).toBe('secret-token');
      expect(call.query).toContain('dc=dc1');
    }
  });
});

describe.skipIf(SKIP_REASON !== undefined)(`consul:// lock-delay and loss (${SERVER_LABEL})`, () => {
  it(`waits out another session's lock-delay: the key is free but acquire is refused until it ends (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const key = keyOf(prefix, 'delayed');
    // Another client's session with a 1.5 s lock-delay holds the key, then is destroyed.
    const other = await raw().createSession({
      TTL: `${MIN_TTL_MS / 1000}s`,
      LockDelay: '1500ms',
      Behavior: 'delete',
    });
    expect(await raw().put(key, 'x', `?acquire=${other}`)).toBe(true);
    await raw().destroySession(other);
    expect(await raw().get(key)).toBeUndefined();
    const coord = await open(consul().url, { prefix });
    const lock = coord.lock('delayed', { ttlMs: MIN_TTL_MS });
    const destroyed = performance.now();
    expect(await lock.tryAcquire()).toBeNull(); // free, but inside the lock-delay
    const held = await lock.acquire({ waitMs: 10_000 });
    const waited = performance.now() - destroyed;
    expect(waited).toBeGreaterThan(1_300);
    expect(waited).toBeLessThan(1_500 + 3_000); // core's fallback re-check is at most 2 s apart
    await held.release();
  });

  it(`applies its own lockDelayMs to its sessions (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix, lockDelayMs: 1_000 });
    const held = await coord.lock('own-delay', { ttlMs: MIN_TTL_MS }).acquire();
    const session = (await raw().get(keyOf(prefix, 'own-delay')))?.Session as string;
    expect((await raw().sessionInfo(session))?.LockDelay).toBe(1_000_000_000);
    await held.release();
  });

  it(`aborts handle.signal when the session is destroyed by someone else, and the lock is free for others (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const held = await a.lock('gone', { ttlMs: MIN_TTL_MS * 4 }).acquire();
    await delay(400); // let the monitor start
    const session = (await raw().get(keyOf(prefix, 'gone')))?.Session as string;
    await raw().destroySession(session);
    const lag = await abortedWithin(held.signal, 2_000);
    expect(lag).toBeLessThan(1_000); // the monitor's blocking query, not the next renewal
    expect(held.signal.reason).toBeInstanceOf(LockLostError);
    const next = await b.lock('gone', { ttlMs: MIN_TTL_MS }).acquire({ waitMs: 2_000 });
    // Release after loss never releases the new holder's lock.
    expect(await held.release()).toBe(false);
    expect(await next.isHeld()).toBe(true);
    await next.release();
  });

  it(`aborts handle.signal when the key is taken over by another session (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const key = keyOf(prefix, 'stolen');
    const held = await coord.lock('stolen', { ttlMs: MIN_TTL_MS * 4 }).acquire();
    await delay(400);
    const thief = await raw().createSession({ TTL: `${MIN_TTL_MS / 1000}s`, LockDelay: '0s' });
    await raw().delete(key); // an operator deletes the key …
    expect(await raw().put(key, 'thief', `?acquire=${thief}`)).toBe(true); // … another session takes it
    await abortedWithin(held.signal, 2_000);
    expect(await held.release()).toBe(false);
    expect((await raw().get(key))?.Session).toBe(thief);
    await raw().destroySession(thief);
  });

  it(`keeps the lock while the coordinator renews its session past several TTLs (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const held = await a.lock('long', { ttlMs: MIN_TTL_MS }).acquire();
    await delay(MIN_TTL_MS * 3);
    expect(held.signal.aborted).toBe(false);
    expect(await b.lock('long', { ttlMs: MIN_TTL_MS }).tryAcquire()).toBeNull();
    expect(await held.isHeld()).toBe(true);
    await held.release();
  }, 60_000);

  it(`declares the session lost at last renewal + TTL when the server stops answering, and Consul frees the lock by 2 × TTL (${SERVER_LABEL})`, async (ctx) => {
    if (consul().handle.source === 'env')
      ctx.skip('the server belongs to someone else (env URL): it cannot be paused');
    const prefix = freshPrefix();
    const holder = await open(consul().url, { prefix, requestTimeoutMs: 300 });
    const held = await holder.lock('paused', { ttlMs: MIN_TTL_MS }).acquire();
    await consul().handle.pause();
    let lag: number;
    try {
      lag = await abortedWithin(held.signal, MIN_TTL_MS * 3);
    } finally {
      await consul().handle.resume();
    }
    expect(lag).toBeLessThan(MIN_TTL_MS + 500);
    expect((held.signal.reason as LockLostError).code).toBe('LOCK_LOST');
    const other = await open(consul().url, { prefix });
    const next = await other.lock('paused', { ttlMs: MIN_TTL_MS }).acquire({ waitMs: MIN_TTL_MS * 3 });
    expect(next.fencingToken > held.fencingToken).toBe(true);
    await next.release();
  }, 60_000);

  it(`close() releases held locks first and destroys its sessions, leaving no keys and no sessions (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix, lockDelayMs: 5_000 });
    const before = new Set((await raw().sessions()).map((s) => s.ID));
    const handles: LockHandle[] = [];
    for (const name of ['x', 'y', 'z']) handles.push(await coord.lock(name, { ttlMs: MIN_TTL_MS }).acquire());
    const ours = (await raw().sessions()).filter((s) => !before.has(s.ID));
    expect(ours).toHaveLength(1);
    await coord.close();
    expect(await raw().keys(`${prefix}/`)).toEqual([]);
    expect((await raw().sessions()).some((s) => s.ID === ours[0]?.ID)).toBe(false);
    // Released before the session was destroyed: no lock-delay, another client gets it at once.
    const other = await open(consul().url, { prefix });
    expect(await other.lock('x', { ttlMs: MIN_TTL_MS }).tryAcquire()).not.toBeNull();
    for (const h of handles) expect(h.signal.aborted).toBe(false);
  });
});

describe.skipIf(!IS_EMULATOR)('emulator only', () => {
  it(`inspects a lock: the holder's owner id and token, nobody once released (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    expect(await coord.inspect('i')).toEqual({ name: 'i', holders: [] });
    const held = await coord.lock('i', { ttlMs: MIN_TTL_MS }).acquire();
    const entry = await raw().get(`${prefix}/lock/i`);
    expect(await coord.inspect('i')).toEqual({
      name: 'i',
      holders: [{ owner: entry?.Value, fencingToken: held.fencingToken }],
    });
    await held.release();
    expect((await coord.inspect('i')).holders).toEqual([]);
  });

  it('reports itself as the emulator, so results are labelled emulator', async () => {
    const res = await fetch(`${consul().httpUrl}/v1/status/leader`);
    expect(res.headers.get('X-Lockstep-Emulator')).toBe('true');
  });
});
