import { describe, expect, it } from 'vitest';
import { Session, type SessionMember, type SessionStrategy } from './session.js';
import { SessionPool } from './session-pool.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A strategy whose server answers `reply()` after `latencyMs`. */
function fakeServer(reply: () => boolean | 'unreachable' = () => true, latencyMs = 1) {
  const calls = { keepAlive: 0, verify: 0, end: 0 };
  const gone = new Set<SessionMember>();
  const strategy: SessionStrategy = {
    keepAlive: async () => {
      calls.keepAlive++;
      await delay(latencyMs);
      const answer = reply();
      if (answer === 'unreachable') throw new Error('ECONNREFUSED');
      return answer;
    },
    verify: async (members) => {
      calls.verify++;
      return [...members].filter((m) => gone.has(m));
    },
    end: async () => {
      calls.end++;
    },
  };
  return { strategy, calls, gone };
}

function member() {
  const lost: Error[] = [];
  const m: SessionMember & { lost: Error[] } = { lost, sessionLost: (reason) => lost.push(reason) };
  return m;
}

describe('Session', () => {
  it('keeps itself alive with one keep-alive per period, however many members it carries', async () => {
    const server = fakeServer();
    const session = new Session(server.strategy, {
      ttlMs: 300,
      confirmedAt: performance.now(),
      describe: 'test',
    });
    const members = Array.from({ length: 1_000 }, member);
    for (const m of members) session.join(m);
    await delay(900);
    expect(session.live).toBe(true);
    // About 900 / 100 ms periods — periodic, and not one per member.
    expect(server.calls.keepAlive).toBeGreaterThanOrEqual(2);
    expect(server.calls.keepAlive).toBeLessThanOrEqual(20);
    expect(members.every((m) => m.lost.length === 0)).toBe(true);
    expect(session.certainUntil).toBeGreaterThan(performance.now());
    await session.close();
    expect(server.calls.end).toBe(1);
  });

  it('is not live once its window has run out, even before its timer fires (a stalled event loop)', () => {
    const server = fakeServer();
    const session = new Session(server.strategy, {
      ttlMs: 100,
      confirmedAt: performance.now(),
      describe: 'test',
    });
    const m = member();
    session.join(m);
    // The event loop stalls past the window: no timer can run in between.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
    expect(session.live).toBe(false);
    expect(m.lost).toHaveLength(1);
    expect(session.lost.aborted).toBe(true);
    expect(server.calls.end).toBe(1);
  });

  it('declares itself lost when its trust window runs out unconfirmed, before the server could expire it', async () => {
    const server = fakeServer(() => 'unreachable');
    const started = performance.now();
    const session = new Session(server.strategy, { ttlMs: 300, confirmedAt: started, describe: 'test' });
    const m = member();
    session.join(m);
    await new Promise<void>((resolve) => session.lost.addEventListener('abort', () => resolve()));
    const at = performance.now() - started;
    expect(at).toBeGreaterThanOrEqual(299);
    expect(at).toBeLessThan(300 + 500);
    expect(m.lost).toHaveLength(1);
    expect(m.lost[0]!.message).toMatch(/no keep-alive was confirmed/);
    // Several retries went out within the window.
    expect(server.calls.keepAlive).toBeGreaterThanOrEqual(3);
    // It tries to end the session it can no longer prove alive.
    expect(server.calls.end).toBe(1);
  });

  it('is lost at once when the server says it is gone, and tells every member once', async () => {
    let alive = true;
    const server = fakeServer(() => alive);
    const session = new Session(server.strategy, {
      ttlMs: 1_000,
      confirmedAt: performance.now(),
      describe: 'test',
    });
    const a = member();
    const b = member();
    session.join(a);
    session.join(b);
    alive = false;
    expect(await session.confirm()).toBe(false);
    expect(session.live).toBe(false);
    expect([a.lost.length, b.lost.length]).toEqual([1, 1]);
    // A member joining afterwards hears of it too.
    const late = member();
    session.join(late);
    await Promise.resolve();
    expect(late.lost).toHaveLength(1);
    await session.close();
  });

  it('confirm() joins a keep-alive sent after it was called, and sends one otherwise', async () => {
    const server = fakeServer(() => true, 20);
    const session = new Session(server.strategy, {
      ttlMs: 10_000,
      confirmedAt: performance.now(),
      describe: 'test',
    });
    const first = session.confirm();
    const second = session.confirm();
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(server.calls.keepAlive).toBe(2);
    await session.close();
  });

  it('an answered request moves the keep-alive out (backends where every request proves the session)', async () => {
    const server = fakeServer();
    const session = new Session(server.strategy, {
      ttlMs: 900,
      confirmedAt: performance.now(),
      describe: 'test',
    });
    const talk = setInterval(() => session.answered(performance.now()), 10);
    await delay(300);
    clearInterval(talk);
    expect(server.calls.keepAlive).toBe(0);
    expect(session.live).toBe(true);
    await session.close();
  });

  it('verify() finds members the server dropped, in one request per period', async () => {
    const server = fakeServer();
    const session = new Session(server.strategy, {
      ttlMs: 90,
      confirmedAt: performance.now(),
      describe: 'test',
    });
    const kept = member();
    const dropped = member();
    session.join(kept);
    session.join(dropped);
    server.gone.add(dropped);
    await delay(150);
    expect(dropped.lost).toHaveLength(1);
    expect(dropped.lost[0]!.message).toMatch(/no longer has this lock/);
    expect(kept.lost).toHaveLength(0);
    expect(server.calls.verify).toBeGreaterThanOrEqual(1);
    expect(server.calls.verify).toBeLessThanOrEqual(server.calls.keepAlive);
    await session.close();
  });
});

describe('SessionPool', () => {
  it('creates one session per TTL for concurrent askers, and replaces a lost one', async () => {
    let created = 0;
    let alive = true;
    const server = fakeServer(() => alive);
    const pool = new SessionPool({
      create: async (ttlMs) => {
        created++;
        await delay(5);
        return new Session(server.strategy, {
          ttlMs,
          confirmedAt: performance.now(),
          describe: `s${created}`,
        });
      },
    });
    const [a, b, c] = await Promise.all([pool.session(1_000), pool.session(1_000), pool.session(2_000)]);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(created).toBe(2);
    expect(pool.current(1_000)).toBe(a);
    alive = false;
    await a!.confirm();
    expect(pool.current(1_000)).toBeUndefined();
    alive = true;
    const replaced = await pool.session(1_000);
    expect(replaced).not.toBe(a);
    expect(replaced.live).toBe(true);
    await pool.close();
    expect(replaced.live).toBe(false);
  });

  it('retires a session nobody uses', async () => {
    const server = fakeServer();
    const pool = new SessionPool({
      create: async (ttlMs) =>
        new Session(server.strategy, { ttlMs, confirmedAt: performance.now(), describe: 's' }),
      idleRetireMs: 60,
    });
    const used = await pool.session(20);
    used.retain();
    const idle = await pool.session(25);
    // Retired after 60 ms idle, by a sweep every 20 ms: allow a loaded machine its delays.
    for (let waited = 0; idle.live && waited < 3_000; waited += 20) await delay(20);
    expect(idle.live).toBe(false);
    expect(used.live).toBe(true);
    used.unretain();
    await pool.close();
  });
});

describe('Session.verify', () => {
  it('runs one check at a time: a slow check is not joined by another each period', async () => {
    let running = 0;
    let most = 0;
    let checks = 0;
    const strategy: SessionStrategy = {
      keepAlive: async () => true,
      verify: async () => {
        checks++;
        most = Math.max(most, ++running);
        await delay(250);
        running--;
        return [];
      },
      end: async () => {},
    };
    const session = new Session(strategy, { ttlMs: 90, confirmedAt: performance.now(), describe: 'test' });
    session.join(member());
    await delay(400);
    expect(checks).toBeGreaterThanOrEqual(1);
    expect(most).toBe(1);
    await session.close();
  });
});
