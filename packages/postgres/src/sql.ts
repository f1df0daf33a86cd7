/**
 * Every SQL statement the adapter sends, built once per schema. Each is a named prepared
 * statement (parsed once per connection), and each lock operation is ONE statement, so one
 * round trip:
 *
 * - try-lock: `pg_try_advisory_lock` and, only when it succeeded, the fencing token
 *   (`nextval` of one sequence) in the same statement;
 * - blocking lock: `pg_advisory_lock` (the server's FIFO queue) then the same token, plus how
 *   long the server waited, so the client can date the grant without trusting clocks;
 * - unlock, health check, keepalive: one statement each.
 *
 * With `idleSessionTimeout` (PostgreSQL 14+) a lock statement also raises the session's
 * `idle_session_timeout` when the lock's TTL needs it, in the same statement: see session.ts.
 * @module
 */
import { createHash } from 'node:crypto';
import type { AdvisoryKey } from './keys.js';

/** The registry row of a lock: written on its first grant (then known, and left out). */
export interface Registration {
  readonly namespace: string;
  readonly name: string;
}

/** A named statement with its parameters, as `pg` takes it. */
export interface Statement {
  readonly name: string;
  readonly text: string;
  readonly values: unknown[];
}

/** Object names inside the chosen schema. */
export const TOKENS_SEQUENCE = 'lockstep_fencing_tokens';
export const LOCKS_TABLE = 'lockstep_locks';
export const COUNTERS_TABLE = 'lockstep_counters';

/** A string as an SQL literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Quotes an SQL identifier (schema or table name). */
export function quoteIdentifier(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

// Names carry a hash of the text: a pooled connection may meet statements of another schema
// under the same kind, and pg refuses to reuse a name for a different text.
function named(kind: string, text: string): { name: string; text: string } {
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
  return { name: `lockstep_${kind}_${digest}`, text };
}

function keyArgs(key: AdvisoryKey): { sql: string; text: string; values: string[] } {
  if (key.kind === 'bigint') {
    return { sql: '$1::bigint', text: '($1::bigint)::text', values: [key.key.toString()] };
  }
  return {
    sql: '$1::int4, $2::int4',
    text: "($1::int4)::text || ',' || ($2::int4)::text",
    values: [String(key.key1), String(key.key2)],
  };
}

/** The lock statements for one schema. */
export class LockSql {
  readonly #locks: string;
  readonly #nextToken: string;
  readonly #timeouts: boolean;
  readonly #cache = new Map<string, { name: string; text: string }>();

  /**
   * @param schema the schema holding the tables
   * @param timeouts whether statements also set `idle_session_timeout` (PostgreSQL 14+)
   */
  constructor(schema: string, timeouts: boolean) {
    this.#locks = `${quoteIdentifier(schema)}.${LOCKS_TABLE}`;
    // A regclass constant: resolved once when the statement is prepared, not per call.
    this.#nextToken = `nextval(${quoteLiteral(`${quoteIdentifier(schema)}.${TOKENS_SEQUENCE}`)}::regclass)`;
    this.#timeouts = timeouts;
  }

  /** Whether statements carry the session's idle timeout. */
  get timeouts(): boolean {
    return this.#timeouts;
  }

  /**
   * Takes the lock if free and, only then, draws its fencing token and (with `register`)
   * records the name beside the advisory key, in one statement. No row when the lock is held elsewhere.
   * Columns: `token` (text), `pid`. `idleTimeout` (a setting value: plain digits are
   * milliseconds; `null`: leave the session's setting alone) applies only when the lock was taken.
   */
  tryLock(key: AdvisoryKey, register: Registration | null, idleTimeout: string | null): Statement {
    const k = keyArgs(key);
    const n = k.values.length;
    const setting = this.#timeouts && idleTimeout !== null;
    const timeoutParam = `$${n + (register ? 3 : 1)}`;
    const stmt = this.#build(
      `try_${key.kind}${setting ? '_timeout' : ''}${register ? '_register' : ''}`,
      () => {
        if (!register) {
          // The common form, once the name is registered: the try is the one-time filter of a
          // plain SELECT, evaluated before its target list — so no token is drawn and nothing
          // is set when the lock is held elsewhere.
          const set = setting
            ? `, set_config('idle_session_timeout', ${timeoutParam}::text, false) AS t`
            : '';
          return `SELECT ${this.#nextToken}::text AS token, pg_backend_pid() AS pid${set}
WHERE pg_try_advisory_lock(${k.sql})`;
        }
        const settings = setting
          ? `SELECT set_config('idle_session_timeout', ${timeoutParam}::text, false) FROM l WHERE l.ok`
          : 'SELECT 1 FROM l WHERE l.ok';
        return `WITH l AS (SELECT pg_try_advisory_lock(${k.sql}) AS ok),
s AS (${settings}),
${this.#fence(k.text, n, 's', register !== null)}`;
      },
    );
    const values: unknown[] = [...k.values];
    if (register) values.push(register.namespace, register.name);
    if (setting) values.push(idleTimeout);
    return { ...stmt, values };
  }

  /**
   * Waits in the server's queue for the lock, then draws its token. Columns: `token` (text),
   * `pid`, `waited_ms` (how long the server waited: the grant happened that long after the
   * statement started). Sets the idle timeout first (in force once the session is idle again).
   */
  blockingLock(key: AdvisoryKey, namespace: string, name: string, idleTimeout: string): Statement {
    const k = keyArgs(key);
    const n = k.values.length;
    const stmt = this.#build(`wait_${key.kind}`, () => {
      const settings = this.#timeouts
        ? `SELECT set_config('idle_session_timeout', $${n + 3}::text, false)`
        : 'SELECT 1';
      return `WITH s AS (${settings}),
l AS (SELECT pg_advisory_lock(${k.sql}) FROM s),
w AS (SELECT (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::float8 AS waited_ms FROM l),
${this.#fence(k.text, n, 'w', true, ', (SELECT waited_ms FROM w) AS waited_ms')}`;
    });
    const values = [...k.values, namespace, name];
    if (this.#timeouts) values.push(idleTimeout);
    return { ...stmt, values };
  }

  // The tail shared by both lock statements: the token from the global sequence (strictly
  // increasing across every grant, so across the grants of each name; no row is written for
  // it, and the sequence writes WAL only every 32 values), and — until this coordinator has
  // seen it done — the name's registry row (ON CONFLICT DO NOTHING writes nothing when it
  // exists, but still costs an index probe). `after` is the CTE that yields a row only when
  // the lock is ours.
  #fence(keyText: string, n: number, after: string, register: boolean, extra = ''): string {
    const registry = register
      ? `,
r AS (
  INSERT INTO ${this.#locks} (namespace, name, advisory_key)
  SELECT $${n + 1}::text, $${n + 2}::text, ${keyText} FROM t
  ON CONFLICT (namespace, name) DO NOTHING
)`
      : '';
    return `t AS (SELECT ${this.#nextToken} AS token FROM ${after})${registry}
SELECT t.token::text AS token, pg_backend_pid() AS pid${extra} FROM t`;
  }

  /** Releases one hold of the lock on this session. Columns: `released`, `pid`. */
  unlock(key: AdvisoryKey): Statement {
    const k = keyArgs(key);
    const stmt = this.#build(
      `unlock_${key.kind}`,
      () => `SELECT pg_advisory_unlock(${k.sql}) AS released, pg_backend_pid() AS pid`,
    );
    return { ...stmt, values: k.values };
  }

  /**
   * Which of `ids` (`classid/objid/objsubid` texts) this session holds, from `pg_locks`. Also
   * raises the idle timeout when `idleTimeout` is given. Columns: `pid`, `held` (text[]).
   */
  held(ids: readonly string[], idleTimeout: string | null = null): Statement {
    const setting = this.#timeouts && idleTimeout !== null;
    const stmt = this.#build(`held${setting ? '_timeout' : ''}`, () => {
      const settings = setting ? `, set_config('idle_session_timeout', $2::text, false) AS t` : '';
      return `SELECT pg_backend_pid() AS pid, ARRAY(
  SELECT h.id FROM (
    SELECT classid::text || '/' || objid::text || '/' || objsubid::text AS id FROM pg_locks
    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND mode = 'ExclusiveLock'
  ) h WHERE h.id = ANY($1::text[])
)::text[] AS held${settings}`;
    });
    return { ...stmt, values: setting ? [ids, idleTimeout] : [ids] };
  }

  /**
   * Keeps an idle session from reaching its idle timeout, and counts the advisory locks it
   * holds (the health check of every lock on it, in one statement). Columns: `pid`, `held`.
   */
  keepalive(): Statement {
    const stmt = this.#build(
      'keepalive',
      () => `SELECT pg_backend_pid() AS pid, (SELECT count(*) FROM pg_locks
  WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND mode = 'ExclusiveLock')::int AS held`,
    );
    return { ...stmt, values: [] };
  }

  /** Drops every advisory lock of the session and restores its idle timeout (`null`: leave it). */
  reset(idleTimeout: string | null): Statement {
    if (!this.#timeouts || idleTimeout === null) {
      return { ...this.#build('reset', () => 'SELECT pg_advisory_unlock_all()'), values: [] };
    }
    const stmt = this.#build(
      'reset_timeout',
      () => "SELECT pg_advisory_unlock_all(), set_config('idle_session_timeout', $1::text, false)",
    );
    return { ...stmt, values: [idleTimeout] };
  }

  #build(kind: string, text: () => string): { name: string; text: string } {
    let stmt = this.#cache.get(kind);
    if (!stmt) {
      stmt = named(kind, text());
      this.#cache.set(kind, stmt);
    }
    return stmt;
  }
}

/** What a fresh session reports about itself. Columns: `pid`, `version`, `idle_timeout`. */
export const SESSION_PROBE: Statement = {
  ...named(
    'probe',
    `SELECT pg_backend_pid() AS pid, current_setting('server_version_num')::int AS version,
(SELECT setting FROM pg_settings WHERE name = 'idle_session_timeout') AS idle_timeout`,
  ),
  values: [],
};

/** Interrupts the statement a backend runs (our waiting sessions only). */
export function cancelBackend(pid: number): Statement {
  return { ...named('cancel', 'SELECT pg_cancel_backend($1::int) AS sent'), values: [pid] };
}

/** The counter statements for one schema: one statement per operation. */
export class CounterSql {
  readonly #counters: string;
  readonly #get: { name: string; text: string };
  readonly #add: { name: string; text: string };
  readonly #set: { name: string; text: string };
  readonly #casFromZero: { name: string; text: string };
  readonly #cas: { name: string; text: string };

  constructor(schema: string) {
    const t = `${quoteIdentifier(schema)}.${COUNTERS_TABLE}`;
    this.#counters = t;
    const row = 'namespace = $1::text AND name = $2::text';
    this.#get = named('counter_get', `SELECT value::text AS value FROM ${t} WHERE ${row}`);
    // The UPDATE guards the bounds on the latest row version (READ COMMITTED re-checks its WHERE
    // after waiting for a concurrent writer); the INSERT covers a counter that does not exist
    // yet, and its ON CONFLICT the one created concurrently. Neither writes when a bound would
    // be crossed. `seen` (the statement's snapshot) explains a refusal.
    this.#add = named(
      'counter_add',
      `WITH upd AS (
  UPDATE ${t} AS c SET value = c.value + $3::bigint
  WHERE ${row} AND c.value + $3::bigint BETWEEN $4::bigint AND $5::bigint
  RETURNING c.value
), ins AS (
  INSERT INTO ${t} AS c (namespace, name, value)
  SELECT $1::text, $2::text, $3::bigint
  WHERE $3::bigint BETWEEN $4::bigint AND $5::bigint
    AND NOT EXISTS (SELECT 1 FROM ${t} WHERE ${row})
  ON CONFLICT (namespace, name) DO UPDATE SET value = c.value + $3::bigint
  WHERE c.value + $3::bigint BETWEEN $4::bigint AND $5::bigint
  RETURNING c.value
)
SELECT COALESCE((SELECT value FROM upd), (SELECT value FROM ins))::text AS value,
  (SELECT value FROM ${t} WHERE ${row})::text AS seen`,
    );
    this.#set = named(
      'counter_set',
      `INSERT INTO ${t} AS c (namespace, name, value) VALUES ($1::text, $2::text, $3::bigint)
ON CONFLICT (namespace, name) DO UPDATE SET value = EXCLUDED.value`,
    );
    // A counter never written counts as 0, so "expected 0" must also create the row.
    this.#casFromZero = named(
      'counter_cas0',
      `INSERT INTO ${t} AS c (namespace, name, value) VALUES ($1::text, $2::text, $3::bigint)
ON CONFLICT (namespace, name) DO UPDATE SET value = EXCLUDED.value WHERE c.value = 0
RETURNING 1 AS ok`,
    );
    this.#cas = named(
      'counter_cas',
      `UPDATE ${t} SET value = $4::bigint WHERE ${row} AND value = $3::bigint RETURNING 1 AS ok`,
    );
  }

  /** The table, quoted. */
  get table(): string {
    return this.#counters;
  }

  get(namespace: string, name: string): Statement {
    return { ...this.#get, values: [namespace, name] };
  }

  /** Columns: `value` (text, null when refused), `seen` (text, null when the row is absent). */
  add(namespace: string, name: string, delta: number, min: number, max: number): Statement {
    return { ...this.#add, values: [namespace, name, delta, min, max] };
  }

  set(namespace: string, name: string, value: number): Statement {
    return { ...this.#set, values: [namespace, name, value] };
  }

  /** One row (`ok`) when it was set. */
  compareAndSet(namespace: string, name: string, expected: number, next: number): Statement {
    if (expected === 0) return { ...this.#casFromZero, values: [namespace, name, next] };
    return { ...this.#cas, values: [namespace, name, expected, next] };
  }
}
