/**
 * PostgreSQL elections on a real server: the server refuses a stale term's proclaim, a leader
 * whose connection ended is seen gone without having resigned, values of any content and size
 * reach observers, and observers survive the loss of their listening connection.
 */
import type { LeaderInfo } from '@lockstep/core';
import { resourceRef } from '@lockstep/core/driver';
import { useServer } from '@lockstep/testing/vitest';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ElectionSql } from './elections.js';
import { pgLocksIdentity, placeLock } from './keys.js';
import { LockSql } from './sql.js';
import {
  abortedAfter,
  connectionsOf,
  eventually,
  freshAppName,
  freshPrefix,
  open,
  rawClient,
  withAppName,
  within,
} from './test-support.js';

const server = useServer('postgres');

/** The backend leading `prefix`'s election `name`. */
async function leaderPid(raw: pg.Client, prefix: string, name: string): Promise<number | undefined> {
  const { classid, objid } = pgLocksIdentity(placeLock(resourceRef(prefix, name), 'election').advisory);
  const result = await raw.query(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
    [classid, objid],
  );
  return result.rows[0]?.pid;
}

/** Candidates waiting in the server's queue for `prefix`'s election `name`. */
async function queuedFor(raw: pg.Client, prefix: string, name: string): Promise<number> {
  const { classid, objid } = pgLocksIdentity(placeLock(resourceRef(prefix, name), 'election').advisory);
  const result = await raw.query(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1`,
    [classid, objid],
  );
  return result.rows[0].n;
}

/** Collects what an observer reports, and resolves when one matches. */
function watch(iterator: AsyncIterator<LeaderInfo | null>) {
  const seen: Array<LeaderInfo | null> = [];
  let wake = () => {};
  void (async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      seen.push(next.value);
      wake();
    }
  })();
  return {
    seen,
    until: (match: (leader: LeaderInfo | null) => boolean, ms: number, what: string) =>
      within(
        new Promise<void>((resolve) => {
          const check = () => {
            if (seen.some(match)) resolve();
          };
          wake = check;
          check();
        }),
        ms,
        what,
      ),
  };
}

describe('terms on the server', () => {
  it('refuses a proclaim under a term that no longer leads, resigned or succeeded', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(server.url, { prefix }), await open(server.url, { prefix })];
    const raw = await rawClient(server.url);
    const statements = new ElectionSql(new LockSql('public', false));
    const placement = placeLock(resourceRef(prefix, 'stale'), 'election');
    const first = await a.election('stale').campaign({ value: 'a' });
    const fresh = await raw.query(statements.proclaim(placement, first.term, 'a2'));
    expect(fresh.rowCount).toBe(1);
    await first.resign();
    // Resigned, nobody leads: the row is vacant and the old term writes nothing.
    expect((await raw.query(statements.proclaim(placement, first.term, 'late'))).rowCount).toBe(0);
    expect(await b.election('stale').leader()).toBeNull();
    const second = await b.election('stale').campaign({ value: 'b' });
    expect((await raw.query(statements.proclaim(placement, first.term, 'stolen'))).rowCount).toBe(0);
    expect(await a.election('stale').leader()).toEqual({ value: 'b', term: second.term });
    await second.resign();
  });
});

describe('a resignation handing over to a queued candidate', () => {
  // Regression: the resignation unlocked before it drew the vacancy's revision, so the candidate
  // it woke could draw its term first — the vacancy then ranked after the new leader, and
  // observers (whose re-reads found the older revision) reported nobody leading for good.
  it('is seen by observers as a vacancy and then the new leader, every time', async () => {
    const prefix = freshPrefix();
    const [a, b, watching] = [
      await open(server.url, { prefix }),
      await open(server.url, { prefix }),
      await open(server.url, { prefix }),
    ];
    const raw = await rawClient(server.url);
    const stop = new AbortController();
    const observer = watch(watching.election('relay').observe({ signal: stop.signal }));
    await observer.until((l) => l === null, 5_000, 'the first state');
    let leader = await a.election('relay').campaign({ value: 'v0' });
    const clients = [b, a];
    for (let round = 1; round <= 150; round++) {
      const next = clients[round % 2]!.election('relay').campaign({ value: `v${round}` });
      // The candidate waits in the server's queue before the leader resigns.
      await eventually(
        async () => (await queuedFor(raw, prefix, 'relay')) === 1,
        5_000,
        'the queued candidate',
      );
      await leader.resign();
      leader = await within(next, 5_000, `candidate ${round}`);
      await observer.until((l) => l?.value === `v${round}`, 3_000, `leader v${round} observed`);
    }
    await leader.resign();
    stop.abort();
  });
});

describe('a leader whose connection ended', () => {
  it('is reported gone by leader() and by observers without having resigned', async () => {
    const prefix = freshPrefix();
    const [leading, watching] = [await open(server.url, { prefix }), await open(server.url, { prefix })];
    const raw = await rawClient(server.url);
    const stop = new AbortController();
    const observer = watch(watching.election('cut').observe({ signal: stop.signal }));
    await observer.until((l) => l === null, 5_000, 'the first state');
    const leadership = await leading.election('cut').campaign({ value: 'doomed' });
    await observer.until((l) => l?.value === 'doomed', 5_000, 'the leader');
    const pid = await leaderPid(raw, prefix, 'cut');
    await raw.query('SELECT pg_terminate_backend($1)', [pid]);
    await eventually(
      async () => (await watching.election('cut').leader()) === null,
      5_000,
      'leader() saying nobody leads',
    );
    // No notification was sent: the observer's periodic re-read finds the vacancy.
    await observer.until((l) => l === null && observer.seen.length > 2, 5_000, 'the observed vacancy');
    expect(observer.seen.map((l) => l?.value ?? null)).toEqual([null, 'doomed', null]);
    await within(abortedAfter(leadership.signal, 0), 5_000, "the leader's signal");
    stop.abort();
  });
});

describe('values', () => {
  it('of any content and past the size of a notification reach observers and leader() intact', async () => {
    const prefix = freshPrefix();
    const [leading, watching] = [await open(server.url, { prefix }), await open(server.url, { prefix })];
    const stop = new AbortController();
    const observer = watch(watching.election('values').observe({ signal: stop.signal }));
    const odd = 'a\0b\\0c\\\\ é 🗳';
    const big = `${'x'.repeat(20_000)}\0end`;
    const leadership = await leading.election('values').campaign({ value: odd });
    await observer.until((l) => l?.value === odd, 5_000, 'the odd value');
    await leadership.proclaim(big);
    await observer.until((l) => l?.value === big, 5_000, 'the big value');
    expect(await watching.election('values').leader()).toEqual({ value: big, term: leadership.term });
    await leadership.resign();
    stop.abort();
  });
});

describe('the listening connection', () => {
  it('is replaced when cut: observers still hear later changes, and it goes back once unused', async () => {
    const prefix = freshPrefix();
    const appName = freshAppName();
    const leading = await open(server.url, { prefix });
    const watching = await open(withAppName(server.url, appName), { prefix });
    const raw = await rawClient(server.url);
    const stop = new AbortController();
    const observer = watch(watching.election('relisten').observe({ signal: stop.signal }));
    await observer.until((l) => l === null, 5_000, 'the first state');
    const listening = await raw.query(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'",
      [appName],
    );
    expect(listening.rows).toHaveLength(1);
    await raw.query('SELECT pg_terminate_backend($1)', [listening.rows[0].pid]);
    const leadership = await leading.election('relisten').campaign({ value: 'after the cut' });
    await observer.until((l) => l?.value === 'after the cut', 5_000, 'the leader after the cut');
    const lastQuery = async (pid: number) =>
      (await raw.query('SELECT query FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0]?.query as string;
    let relistened: number | undefined;
    await eventually(
      async () => {
        const rows = await raw.query(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'",
          [appName],
        );
        relistened = rows.rows[0]?.pid;
        return relistened !== undefined && relistened !== listening.rows[0].pid;
      },
      5_000,
      'a new listening connection',
    );
    await leadership.proclaim('heard on the new one');
    await observer.until(
      (l) => l?.value === 'heard on the new one',
      5_000,
      'a notification on the new connection',
    );
    stop.abort();
    // Nobody observes any more: the connection stops listening and goes back to the pool.
    await eventually(
      async () => (await lastQuery(relistened!))?.startsWith('UNLISTEN *'),
      10_000,
      'the listening connection reset for the pool',
    );
    expect(await connectionsOf(raw, appName)).toBeGreaterThan(0);
    await leadership.resign();
  });
});
