/**
 * redis:// elections against a real redis-server: the leader's record and the queue of
 * candidates in their own keys, an observer that tells a lapsed lease (nothing published) as a
 * vacancy, proclaim refused once the lease lapsed, and the observer's ordering of what it hears.
 */
import { randomBytes } from 'node:crypto';
import type { LeaderInfo } from '@lockstep/core';
import { encodeName } from '@lockstep/core/driver';
import { describe, expect, it } from 'vitest';
import { ELECTION_SCRIPTS, PROCLAIM } from './election-scripts.js';
import { LeaderView } from './elections.js';
import { electionKeys } from './keys.js';
import { commandCalls, delay, freshPrefix, open, rawClient, within } from './test-support/helpers.js';
import { useRedisServer } from './test-support/servers.js';

const redis = useRedisServer();
const url = () => redis.handle.url;

/** The keys of election `name` under `prefix`, as the driver derives them. */
const keysOf = (prefix: string, name: string) =>
  electionKeys({ name, prefix, segment: encodeName(name), prefixSegment: encodeName(prefix) });

/** Changes an observer tells, pushed as they come. */
function collector(): {
  seen: Array<LeaderInfo | null>;
  next: (count: number, ms?: number) => Promise<void>;
  push: (l: LeaderInfo | null) => void;
} {
  const seen: Array<LeaderInfo | null> = [];
  let waiting: (() => void) | undefined;
  return {
    seen,
    push: (leader) => {
      seen.push(leader);
      waiting?.();
    },
    next: (count, ms = 10_000) =>
      within(
        new Promise<void>((resolve) => {
          const check = () => {
            if (seen.length >= count) resolve();
          };
          waiting = check;
          check();
        }),
        ms,
        `${count} changes`,
      ),
  };
}

/** Reads `iterator` into `into` in the background. */
function drain(
  iterator: AsyncIterableIterator<LeaderInfo | null>,
  into: (l: LeaderInfo | null) => void,
): void {
  void (async () => {
    for await (const leader of iterator) into(leader);
  })();
}

describe('redis:// elections', () => {
  it("keeps the leader's record beside the candidates' queue, one EVALSHA per campaign", async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(url(), { prefix }), await open(url(), { prefix })];
    const raw = rawClient(url());
    const keys = keysOf(prefix, 'jobs/x');
    await (await a.election('jobs/x').campaign({ value: 'warm' })).resign(); // load the script
    await raw.config('RESETSTAT');
    const leading = await a.election('jobs/x').campaign({ value: 'node-a:8080' });
    expect(await commandCalls(raw, 'evalsha')).toBe(1);
    const record = await raw.hgetall(keys.leader);
    expect(record).toMatchObject({ term: String(leading.term), version: '0', value: 'node-a:8080' });
    expect(record.owner).toMatch(/^[0-9a-f]{32}$/);
    expect(await raw.get(keys.fence)).toBe(String(leading.term));
    // The lock of the same name is another thing.
    const lock = await a.lock('jobs/x').tryAcquire();
    expect(lock).not.toBeNull();
    await lock!.release();

    const next = b.election('jobs/x').campaign({ value: 'node-b', waitMs: 10_000 });
    await within(
      (async () => {
        while ((await raw.zcard(keys.queued.queue)) === 0) await delay(10);
      })(),
      5_000,
      'the candidate queued',
    );
    await leading.proclaim('node-a:9090');
    expect(await raw.hget(keys.leader, 'version')).toBe('1');
    expect(await b.election('jobs/x').leader()).toEqual({ value: 'node-a:9090', term: leading.term });
    await leading.resign();
    const successor = await next;
    expect(successor.term > leading.term).toBe(true);
    expect(await raw.hget(keys.leader, 'value')).toBe('node-b');
    await successor.resign();
    expect(await raw.exists(keys.leader)).toBe(0);
    expect(await a.election('jobs/x').leader()).toBeNull();
  });

  it('tells observers of a lease that lapsed, though nothing was published, at its end; a proclaim then is refused', async () => {
    const prefix = freshPrefix();
    const observer = await open(url(), { prefix });
    const raw = rawClient(url());
    const keys = keysOf(prefix, 'lapse');
    const changes = collector();
    const stop = new AbortController();
    drain(observer.election('lapse').observe({ signal: stop.signal }), changes.push);
    await changes.next(1);
    // A leader that never renews, as a crashed process leaves it: granted by the script itself.
    const owner = randomBytes(16).toString('hex');
    const ttlMs = 700;
    const [granted, term] = (await ELECTION_SCRIPTS.acquire.run(raw, keys.scriptKeys, [
      owner,
      keys.channel,
      ttlMs,
      1,
      0,
      'ghost',
    ])) as [number, number];
    const grantedAt = performance.now();
    expect(granted).toBe(1);
    await changes.next(2);
    await changes.next(3, 5_000);
    const vacancyAfter = performance.now() - grantedAt;
    stop.abort();
    expect(changes.seen).toEqual([null, { value: 'ghost', term: BigInt(term) }, null]);
    // Told at the lease end, not before; and no script had dropped the lease (which would have
    // published the vacancy): the observer found it lapsed.
    expect(vacancyAfter).toBeGreaterThanOrEqual(ttlMs - 50);
    expect(vacancyAfter).toBeLessThan(ttlMs + 1_500);
    expect(await raw.zcard(keys.holders)).toBe(1);
    // The lapsed leader cannot proclaim, though its entry is still there.
    expect(await PROCLAIM.run(raw, [keys.holders, keys.leader], [owner, keys.channel, 'late'])).toBe(0);
    expect(await raw.hget(keys.leader, 'value')).toBe('ghost');
  }, 30_000);

  it('an observer tells every change once and in order, whichever way it heard of it', () => {
    const told: Array<string> = [];
    const view = new LeaderView((l) => told.push(l ? `${l.value}@${l.term}` : 'none'));
    view.offer({ term: 5n, vacant: true });
    view.offer({ term: 6n, version: 0, leftMs: 100, value: 'a' });
    // A read that crossed the message: the same state again, then an older one.
    expect(view.offer({ term: 6n, version: 0, leftMs: 90, value: 'a' })).toBe(true);
    expect(view.offer({ term: 5n, vacant: true })).toBe(false);
    view.offer({ term: 6n, version: 1, leftMs: 100, value: 'a2' });
    // Heard of the next leader before its predecessor's vacancy: the vacancy is told first.
    view.offer({ term: 7n, version: 0, leftMs: 100, value: 'b' });
    expect(view.offer({ term: 6n, vacant: true })).toBe(false);
    view.offer({ term: 7n, vacant: true });
    // A leader missed entirely while away: still one vacancy.
    view.offer({ term: 9n, vacant: true });
    expect(told).toEqual(['none', 'a@6', 'a2@6', 'none', 'b@7', 'none']);
  });
});
