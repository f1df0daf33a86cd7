/**
 * Elections: leading is holding the election's advisory lock on a pinned session — taken and
 * waited for exactly like a lock, in the server's queue — and the leader's value lives in a row
 * of `lockstep_elections` beside it:
 *
 * - **The grant statement** takes the lock and, only then, draws the term (the fencing token),
 *   writes the row `(term, value)` and notifies the election's channel: one statement, so the
 *   row always names the holder of the lock (a newer term only ever replaces an older one).
 * - **`proclaim`** is `UPDATE … SET value WHERE term = $term AND NOT vacant` on the leader's
 *   connection, with the notification in the same statement: a deposed leader's term is no
 *   longer the row's, so the server refuses it whatever the deposed process believes.
 * - **`resign`** marks the row vacant (guarded by the term) and only then unlocks, notifying the
 *   vacancy: its revision is drawn before any next leader's term.
 * - **`leader()`** reads the row and asks the lock manager whether anybody holds the lock (a
 *   transaction-scoped try from a pool connection): a leader whose connection died never wrote
 *   its vacancy, and is reported gone as soon as the server has freed its lock.
 * - **`observe`** listens on the election's channel, reads the row once listening, and then
 *   applies what the notifications carry; it re-reads after a reconnect and every second, so a
 *   lost notification (or a leader that died without a word) cannot hide a change for longer.
 *   Every state carries a revision from the token sequence, so a stale read never undoes news.
 * @module
 */
import {
  type AcquireRequest,
  backendFailure,
  type ElectionDriver,
  type ElectionRef,
  type LeadershipGrant,
  type LockRef,
  mapFailures,
} from '@lockstep/core/driver';
import type pg from 'pg';
import {
  type ElectionRow,
  ElectionView,
  escapeValue,
  newsOfPayload,
  newsOfRow,
  unescapeValue,
} from './election-view.js';
import { grantFor } from './grant.js';
import { channelOf, type LockPlacement, placeLock } from './keys.js';
import type { Listener } from './listener.js';
import { type AdvisoryRecipe, PostgresLocks } from './locks.js';
import type { TableGuard } from './schema.js';
import type { SessionSet } from './sessions.js';
import {
  ELECTIONS_TABLE,
  type LockSql,
  named,
  quoteIdentifier,
  type Statement,
  setIdleTimeout,
  WAITED_MS,
} from './sql.js';

/** How often an observer re-reads the election whatever it heard. */
const OBSERVE_REREAD_MS = 1_000;
/** Longest (escaped) value a notification carries; past it, observers re-read the row. */
const MAX_NOTIFIED_VALUE_BYTES = 7_900;

/** The statements of elections in one schema. */
export class ElectionSql {
  readonly #sql: LockSql;
  readonly #table: string;

  constructor(sql: LockSql) {
    this.#sql = sql;
    this.#table = sql.table(ELECTIONS_TABLE);
  }

  // The notification of a leader or its new value; $4 is the (escaped) value.
  #payload(term: string, revision: string): string {
    return `CASE WHEN octet_length($4::text) <= ${MAX_NOTIFIED_VALUE_BYTES}
  THEN 'L' || ${term} || ':' || ${revision} || ':' || $4::text ELSE 'R' END`;
  }

  // The row of the new leader, from the CTE `from` (one row, `term`, only when the lock is ours).
  #upsert(from: string): string {
    return `INSERT INTO ${this.#table} AS e (namespace, name, term, revision, value, vacant)
  SELECT $2::text, $3::text, ${from}.term, ${from}.term, $4::text, false FROM ${from}
  ON CONFLICT (namespace, name) DO UPDATE
  SET term = EXCLUDED.term, revision = EXCLUDED.revision, value = EXCLUDED.value, vacant = false
  WHERE e.term < EXCLUDED.term`;
  }

  /** Leads if free: the term, the row and the notification only when the lock was taken. */
  tryLead(
    placement: LockPlacement,
    request: AcquireRequest<ElectionRef>,
    idleTimeout: string | null,
  ): Statement {
    const setting = this.#sql.timeouts && idleTimeout !== null;
    const stmt = this.#sql.prepared(
      `election_try${setting ? '_timeout' : ''}`,
      () => `WITH l AS (SELECT ${this.#sql.nextToken} AS term WHERE pg_try_advisory_lock($1::bigint)),
w AS (${this.#upsert('l')})
SELECT l.term::text AS token, pg_backend_pid() AS pid,
  pg_notify($5::text, ${this.#payload('l.term', 'l.term')})::text AS notified${setting ? setIdleTimeout(6) : ''}
FROM l`,
    );
    return { ...stmt, values: this.#leadValues(placement, request, setting ? idleTimeout : undefined) };
  }

  /** Waits in the server's queue to lead, then writes the row and notifies. */
  waitLead(placement: LockPlacement, request: AcquireRequest<ElectionRef>): Statement {
    const timeouts = this.#sql.timeouts;
    const stmt = this.#sql.prepared(
      'election_wait',
      () => `WITH l AS (SELECT pg_advisory_lock($1::bigint)), n AS (SELECT ${this.#sql.nextToken} AS term FROM l),
w AS (${this.#upsert('n')})
SELECT n.term::text AS token, pg_backend_pid() AS pid, ${WAITED_MS},
  pg_notify($5::text, ${this.#payload('n.term', 'n.term')})::text AS notified${timeouts ? setIdleTimeout(6) : ''}
FROM n`,
    );
    return {
      ...stmt,
      values: this.#leadValues(placement, request, timeouts ? String(request.ttlMs) : undefined),
    };
  }

  #leadValues(placement: LockPlacement, request: AcquireRequest<ElectionRef>, timeout?: string): unknown[] {
    const key = advisoryBigint(placement);
    const values: unknown[] = [
      key.toString(),
      placement.namespace,
      placement.name,
      escapeValue(request.lock.value),
      channelOf('e', key),
    ];
    if (timeout !== undefined) values.push(timeout);
    return values;
  }

  /**
   * Marks the row vacant if this term still leads it, then unlocks, and notifies the vacancy.
   * The vacancy's revision is drawn before the unlock: a candidate the unlock wakes draws its
   * term after it, so the vacancy ranks before the next leader. Columns: `released`, `pid`.
   */
  resign(placement: LockPlacement, term: bigint): Statement {
    const stmt = this.#sql.prepared(
      'election_resign',
      // CASE orders the update (the CTE runs where it is first read) before the unlock.
      () => `WITH v AS (UPDATE ${this.#table} SET vacant = true, revision = ${this.#sql.nextToken}
  WHERE namespace = $2::text AND name = $3::text AND term = $4::bigint AND NOT vacant RETURNING revision)
SELECT r.released, pg_backend_pid() AS pid,
  (SELECT pg_notify($5::text, 'V' || $4::bigint || ':' || v.revision)::text FROM v) AS notified
FROM (SELECT CASE WHEN (SELECT count(*) FROM v) >= 0 THEN pg_advisory_unlock($1::bigint) END AS released
  OFFSET 0) r`,
    );
    const { namespace, name } = placement;
    const key = advisoryBigint(placement);
    return { ...stmt, values: [key.toString(), namespace, name, term.toString(), channelOf('e', key)] };
  }

  /** Writes `value` only while `term` leads the row; one row when it did. */
  proclaim(placement: LockPlacement, term: bigint, value: string): Statement {
    const stmt = this.#sql.prepared(
      'election_proclaim',
      () => `WITH u AS (UPDATE ${this.#table} SET value = $4::text, revision = ${this.#sql.nextToken}
  WHERE namespace = $1::text AND name = $2::text AND term = $3::bigint AND NOT vacant RETURNING revision)
SELECT pg_backend_pid() AS pid, pg_notify($5::text, ${this.#payload('$3::bigint', 'u.revision')})::text AS notified FROM u`,
    );
    const { namespace, name } = placement;
    const values = [
      namespace,
      name,
      term.toString(),
      escapeValue(value),
      channelOf('e', advisoryBigint(placement)),
    ];
    return { ...stmt, values };
  }
}

function advisoryBigint(placement: LockPlacement): bigint {
  if (placement.advisory.kind !== 'bigint') throw new Error('elections have bigint keys');
  return placement.advisory.key;
}

/** The row and whether anybody holds the election's lock, through the pool (no pinned session). */
function leaderStatement(schema: string): { name: string; text: string } {
  return named(
    'election_leader',
    `SELECT term::text AS term, revision::text AS revision, value, vacant,
  NOT vacant AND pg_try_advisory_xact_lock($1::bigint) AS orphaned
FROM ${quoteIdentifier(schema)}.${ELECTIONS_TABLE} WHERE namespace = $2::text AND name = $3::text`,
  );
}

/** The elections of one coordinator. */
export class PostgresElections implements ElectionDriver {
  readonly #sessions: SessionSet;
  readonly #tables: TableGuard;
  readonly #listener: Listener;
  readonly #candidacies: PostgresLocks<ElectionRef>;
  readonly #leader: { name: string; text: string };
  #sql: ElectionSql | undefined;

  constructor(sessions: SessionSet, tables: TableGuard, listener: Listener, schema: string) {
    this.#sessions = sessions;
    this.#tables = tables;
    this.#listener = listener;
    this.#leader = leaderStatement(schema);
    const electionSql = () => (this.#sql ??= new ElectionSql(this.#sessions.sql));
    const recipe: AdvisoryRecipe<ElectionRef> = {
      place: (ref) => placeLock(ref, 'election'),
      mode: () => 'exclusive',
      registers: false,
      tryStatement: (_sql, request, placement, _register, idleTimeout) =>
        electionSql().tryLead(placement, request, idleTimeout),
      waitStatement: (_sql, request, placement) => electionSql().waitLead(placement, request),
      grant: (lock, term, sql): LeadershipGrant => {
        lock.release = electionSql().resign(lock.placement, term);
        const leading = () => lock.held && lock.connection.lockOn(lock.placement.id) === lock;
        return {
          ...grantFor(lock, term, sql),
          fencingToken: term,
          proclaim: async (value) => {
            if (!leading()) return false;
            try {
              return (
                (await lock.connection.run(electionSql().proclaim(lock.placement, term, value))).rows.length >
                0
              );
            } catch (error) {
              throw backendFailure('postgres', 'proclaiming a value', error);
            }
          },
        };
      },
    };
    this.#candidacies = new PostgresLocks(sessions, tables, recipe);
  }

  campaign(request: AcquireRequest<ElectionRef>, signal: AbortSignal): Promise<LeadershipGrant> {
    return this.#candidacies.acquire(request, signal) as Promise<LeadershipGrant>;
  }

  tryCampaign(request: AcquireRequest<ElectionRef>): Promise<LeadershipGrant | null> {
    return this.#candidacies.tryAcquire(request) as Promise<LeadershipGrant | null>;
  }

  async leader(ref: LockRef): Promise<{ value: string; term: bigint } | null> {
    return newsOfRow(await this.#read(ref))?.leader ?? null;
  }

  async observe(
    ref: LockRef,
    onChange: (leader: { readonly value: string; readonly term: bigint } | null) => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) return;
    const view = new ElectionView(onChange);
    const early: string[] = [];
    let started = false;
    let reading = false;
    // One read at a time: a slow server must not pile re-reads up.
    const reread = () => {
      if (!started || signal.aborted || reading) return;
      reading = true;
      this.#read(ref)
        .then(
          (row) => view.apply(newsOfRow(row)),
          () => {},
        )
        .finally(() => {
          reading = false;
        });
    };
    const heard = (payload: string) => {
      if (!started) early.push(payload);
      else if (!signal.aborted) {
        const news = newsOfPayload(payload);
        if (news) view.apply(news);
        else reread();
      }
    };
    const channel = channelOf('e', advisoryBigint(placeLock(ref, 'election')));
    const subscription = this.#listener.subscribe(channel, undefined, {
      notified: heard,
      reconnected: reread,
    });
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearInterval(timer);
      subscription.close();
    };
    signal.addEventListener('abort', stop, { once: true });
    try {
      await subscription.ready;
      const first = await this.#read(ref);
      if (signal.aborted) return;
      view.start(newsOfRow(first));
    } catch (error) {
      signal.removeEventListener('abort', stop);
      stop();
      throw error;
    }
    started = true;
    for (const payload of early.splice(0)) heard(payload);
    timer = setInterval(reread, OBSERVE_REREAD_MS).unref();
  }

  async #read(ref: LockRef): Promise<ElectionRow | undefined> {
    const placement = placeLock(ref, 'election');
    const values = [advisoryBigint(placement).toString(), placement.namespace, placement.name];
    const query = {
      ...this.#leader,
      values,
      query_timeout: this.#sessions.commandTimeoutMs,
    } as pg.QueryConfig;
    const result = await mapFailures('postgres', 'reading an election', () =>
      this.#tables.run(() => this.#sessions.pool.query(query)),
    );
    const row = result.rows[0] as
      | { term: string; revision: string; value: string; vacant: boolean; orphaned: boolean | null }
      | undefined;
    if (!row) return undefined;
    return {
      term: BigInt(row.term),
      revision: BigInt(row.revision),
      value: unescapeValue(row.value),
      vacant: row.vacant,
      orphaned: row.orphaned === true,
    };
  }
}
