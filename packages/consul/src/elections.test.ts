/**
 * consul:// elections against the server from @lockstep/testing (here: the Consul HTTP API
 * emulator, and every title says so): Consul's leader-election pattern on one key, round trips,
 * terms from the key's CreateIndex, proclaim guarded by the session, observers on the blocking
 * query (vacancies included), and nothing left behind.
 */
import { type LeaderInfo, LockLostError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { counted, eventually, freshPrefix, open } from './test-support/helpers.js';
import { RawConsul } from './test-support/raw.js';
import { MIN_TTL_MS, SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';

const consul = useConsul();
const raw = () => new RawConsul(consul().httpUrl);

/** Reads an observer until `count` states arrived; fails with what it saw after 10 s. */
async function states(
  iterator: AsyncIterator<LeaderInfo | null>,
  into: Array<LeaderInfo | null>,
  count: number,
) {
  while (into.length < count) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${show(into).join(' → ')} within 10 s`)), 10_000);
    });
    const next = await Promise.race([iterator.next(), late]).finally(() => clearTimeout(timer));
    if (next.done) throw new Error(`the observer ended after ${into.length} states`);
    into.push(next.value);
  }
}

/** Another client's session takes `key` in one transaction: it deletes the key and acquires it anew. */
async function takeOver(key: string, value: string, session: string): Promise<void> {
  const ops = [
    { KV: { Verb: 'delete', Key: key } },
    { KV: { Verb: 'lock', Key: key, Value: Buffer.from(value).toString('base64'), Session: session } },
  ];
  const res = await fetch(`${consul().httpUrl}/v1/txn`, { method: 'PUT', body: JSON.stringify(ops) });
  expect(res.status).toBe(200);
}

const show = (list: Array<LeaderInfo | null>) => list.map((l) => (l ? `${l.value}@${l.term}` : 'none'));

describe.skipIf(SKIP_REASON !== undefined)(`consul:// elections (${SERVER_LABEL})`, () => {
  it(`leads with ONE /v1/txn request at <prefix>/election/<name>: our session holds it, the value is the leader's, the term its CreateIndex; resign deletes it (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const { coord, counting } = counted(consul().httpUrl, MIN_TTL_MS, { prefix });
    const election = coord.election('scheduler €', { ttlMs: MIN_TTL_MS });
    await (await election.campaign({ value: 'warm-up' })).resign(); // creates the session
    counting.reset();
    const leadership = await election.campaign({ value: 'node-a:8080' });
    expect(counting.work()).toEqual(['PUT /v1/txn']);
    const key = `${prefix}/election/scheduler,20,E2,82,AC`;
    const entry = await raw().get(key);
    expect(entry?.Session).toMatch(/^[0-9a-f-]{36}$/);
    expect(entry?.Value).toBe('node-a:8080');
    expect(leadership.term).toBe(entry?.CreateIndex);
    expect(await election.leader()).toEqual({ value: 'node-a:8080', term: leadership.term });
    counting.reset();
    expect(await leadership.resign()).toBe(true);
    expect(counting.work()).toEqual(['PUT /v1/txn']);
    expect(await raw().get(key)).toBeUndefined();
    expect(await election.leader()).toBeNull();
  });

  it(`proclaims with one CAS guarded by the session: the term stays, and a deposed leader's proclaim is refused (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const key = `${prefix}/election/p`;
    const first = await a.election('p', { ttlMs: MIN_TTL_MS }).campaign({ value: 'v1' });
    await first.proclaim('v2');
    const proclaimed = await raw().get(key);
    expect(proclaimed?.Value).toBe('v2');
    expect(proclaimed?.CreateIndex).toBe(first.term);
    expect(await b.election('p').leader()).toEqual({ value: 'v2', term: first.term });
    // Deposed without knowing: another session takes the key over in one transaction, while our
    // session lives on and nothing has told this leadership yet. Only the server can refuse it.
    const other = await raw().createSession({ TTL: '30s', Behavior: 'delete', LockDelay: '0s' });
    await takeOver(key, 'usurper', other);
    expect(first.signal.aborted).toBe(false);
    await expect(first.proclaim('stale')).rejects.toBeInstanceOf(LockLostError);
    const after = await raw().get(key);
    expect(after?.Value).toBe('usurper');
    expect(after?.Session).toBe(other);
    expect(await b.election('p').leader()).toEqual({ value: 'usurper', term: after!.CreateIndex });
    await raw().destroySession(other);
    const next = await b.election('p', { ttlMs: MIN_TTL_MS }).campaign({ value: 'next', waitMs: 10_000 });
    expect(next.term > after!.CreateIndex).toBe(true);
    await next.resign();
  });

  it(`takes a key someone left behind unheld by deleting and creating it in one transaction, so its term is new (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const key = `${prefix}/election/left`;
    await raw().put(key, 'an operator wrote this');
    const left = await raw().get(key);
    await raw().put(`${prefix}/unrelated`, 'moves the index on');
    const leadership = await coord.election('left', { ttlMs: MIN_TTL_MS }).campaign({ value: 'mine' });
    const entry = await raw().get(key);
    expect(entry?.Value).toBe('mine');
    expect(leadership.term).toBe(entry?.CreateIndex);
    expect(leadership.term > left!.ModifyIndex).toBe(true);
    await leadership.resign();
  });

  it(`wakes a waiting candidate through the key's blocking query when the leader's session ends (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const leader = await a.election('w', { ttlMs: MIN_TTL_MS }).campaign({ value: 'a' });
    const waiting = b.election('w', { ttlMs: MIN_TTL_MS }).campaign({ value: 'b', waitMs: 10_000 });
    const session = (await raw().get(`${prefix}/election/w`))!.Session!;
    const endedAt = performance.now();
    await raw().destroySession(session);
    const next = await waiting;
    // Woken by the answer of its blocking query, not by the fallback re-check (250 ms and more).
    expect(performance.now() - endedAt).toBeLessThan(2_000);
    expect(leader.signal.aborted || (await leader.resign()) === false).toBe(true);
    expect(next.term > leader.term).toBe(true);
    await next.resign();
  });

  it(`tells observers of a vacancy their blocking query did not see: one transaction ended one leader and made another (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const key = `${prefix}/election/v`;
    const election = coord.election('v', { ttlMs: MIN_TTL_MS });
    const leadership = await election.campaign({ value: 'a' });
    const stop = new AbortController();
    const iterator = election.observe({ signal: stop.signal });
    const seen: Array<LeaderInfo | null> = [];
    await states(iterator, seen, 1);
    // Another client's session takes over in ONE transaction: delete the key and acquire it anew.
    const other = await raw().createSession({ TTL: '30s', Behavior: 'delete', LockDelay: '0s' });
    await takeOver(key, 'b', other);
    await states(iterator, seen, 3);
    const taken = await raw().get(key);
    expect(show(seen)).toEqual([`a@${leadership.term}`, 'none', `b@${taken!.CreateIndex}`]);
    stop.abort();
    await eventually(() => leadership.signal.aborted, 5_000);
    await raw().destroySession(other);
  });

  it(`keeps election x apart from lock x, semaphore x and read-write lock x (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const ttlMs = MIN_TTL_MS;
    const held = [
      await coord.election('x', { ttlMs }).campaign({ value: 'v' }),
      await coord.lock('x', { ttlMs }).acquire({ waitMs: 1_000 }),
      await coord.semaphore('x', { permits: 1, ttlMs }).acquire({ waitMs: 1_000 }),
      await coord.readWriteLock('x', { ttlMs }).write.acquire({ waitMs: 1_000 }),
    ];
    const keys = await raw().keys(`${prefix}/`);
    expect(keys).toContain(`${prefix}/election/x`);
    expect(keys).toContain(`${prefix}/lock/x`);
    expect(keys.some((k) => k.startsWith(`${prefix}/semaphore/x/`))).toBe(true);
    expect(keys.some((k) => k.startsWith(`${prefix}/rwlock/x/`))).toBe(true);
    for (const handle of held) {
      if ('resign' in handle) await handle.resign();
      else await handle.release();
    }
    expect(await raw().keys(`${prefix}/`)).toEqual([]);
  });
});
