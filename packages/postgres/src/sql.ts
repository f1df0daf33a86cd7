/**
 * The lock statements every advisory primitive shares, built once per schema: named prepared
 * statements (parsed once per connection), and ONE statement per lock operation, so one round
 * trip — the try-lock and, only when it succeeded, the fencing token (`nextval` of one
 * sequence); the blocking lock (the server's queue) with the same token and how long the server
 * waited, so the client dates the grant without trusting clocks; unlock, health check,
 * keep-alive. Each comes exclusive (`pg_advisory_lock`: locks, writers, leaders) or shared
 * (`pg_advisory_lock_shared`: readers). With `idleSessionTimeout` (PostgreSQL 14+) a lock
 * statement also sets the session's `idle_session_timeout` when the locks on it need another
 * one (see session.ts). Semaphores and elections build their own statements on these helpers.
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
export const ELECTIONS_TABLE = 'lockstep_elections';

/** How an advisory lock is held: alone (`pg_advisory_lock`) or with other sharers (`…_shared`). */
export type AdvisoryMode = 'exclusive' | 'shared';

const fn = (name: string, mode: AdvisoryMode) => (mode === 'shared' ? `${name}_shared` : name);

/** Quotes an SQL identifier (schema or table name). */
export function quoteIdentifier(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * A prepared statement's name and text. The name carries a hash of the text: a pooled
 * connection may meet statements of another schema under the same kind, and pg refuses to
 * reuse a name for a different text.
 */
export function named(kind: string, text: string): { name: string; text: string } {
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
  return { name: `lockstep_${kind}_${digest}`, text };
}

function keyArgs(key: AdvisoryKey): { sql: string; text: string; values: string[] } {
  if (key.kind === 'bigint')
    return { sql: '$1::bigint', text: '($1::bigint)::text', values: [key.key.toString()] };
  const text = "($1::int4)::text || ',' || ($2::int4)::text";
  return { sql: '$1::int4, $2::int4', text, values: [String(key.key1), String(key.key2)] };
}

/** Sets the session's idle timeout to parameter `param` (for the session, not the statement). */
export const idleTimeoutCall = (param: number) =>
  `set_config('idle_session_timeout', $${param}::text, false)`;

/** The target-list entry that sets the session's idle timeout to parameter `param`. */
export const setIdleTimeout = (param: number) => `, ${idleTimeoutCall(param)} AS t`;

/**
 * The advisory locks this session holds, exclusive or shared, as `classid/objid/objsubid`
 * texts (`h.id`; a key held in both modes would show twice, which lockstep never does).
 */
const HELD_BY_ME = `(SELECT classid::text || '/' || objid::text || '/' || objsubid::text AS id FROM pg_locks
  WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND mode IN ('ExclusiveLock', 'ShareLock')) h`;

/** The lock statements for one schema. */
export class LockSql {
  /** The expression that draws the next fencing token. */
  readonly nextToken: string;
  readonly #schema: string;
  readonly #locks: string;
  readonly #timeouts: boolean;
  readonly #cache = new Map<string, { name: string; text: string }>();

  /** @param timeouts whether statements also set `idle_session_timeout` (PostgreSQL 14+) */
  constructor(schema: string, timeouts: boolean) {
    this.#schema = schema;
    this.#locks = this.table(LOCKS_TABLE);
    // A regclass constant: resolved once when the statement is prepared, not per call.
    const sequence = this.table(TOKENS_SEQUENCE).replace(/'/g, "''");
    this.nextToken = `nextval('${sequence}'::regclass)`;
    this.#timeouts = timeouts;
  }

  /** `"schema"."name"`. */
  table(name: string): string {
    return `${quoteIdentifier(this.#schema)}.${name}`;
  }

  /** Whether statements carry the session's idle timeout. */
  get timeouts(): boolean {
    return this.#timeouts;
  }

  /**
   * Takes the lock if free and, only then, draws its token, sets `idleTimeout` (a setting value;
   * `null`: leave it) and with `register` records the name beside the advisory key. No row when
   * the lock is held elsewhere. Columns: `token` (text), `pid`.
   */
  tryLock(
    key: AdvisoryKey,
    register: Registration | null,
    idleTimeout: string | null,
    mode: AdvisoryMode = 'exclusive',
  ): Statement {
    const k = keyArgs(key);
    const n = k.values.length;
    const setting = this.#timeouts && idleTimeout !== null;
    const kind = `try_${key.kind}_${mode}${setting ? '_timeout' : ''}${register ? '_register' : ''}`;
    const stmt = this.prepared(kind, () => {
      const row = `SELECT ${this.nextToken}::text AS token, pg_backend_pid() AS pid${setting ? setIdleTimeout(n + (register ? 3 : 1)) : ''}`;
      const take = `${fn('pg_try_advisory_lock', mode)}(${k.sql})`;
      // Once the name is registered (the common case) the try is the one-time filter of a plain
      // SELECT, evaluated before its target list: no token is drawn, nothing set, when held.
      if (!register) return `${row}\nWHERE ${take}`;
      return `WITH l AS (SELECT ${take} AS ok),
${this.#registry(k.text, n, 'l WHERE l.ok')}
${row} FROM l WHERE l.ok`;
    });
    const values: unknown[] = [...k.values];
    if (register) values.push(register.namespace, register.name);
    if (setting) values.push(idleTimeout);
    return { ...stmt, values };
  }

  /**
   * Waits in the server's queue for the lock, then draws its token, sets the idle timeout and,
   * with `register`, records the name. Columns: `token` (text), `pid`, `waited_ms` (how long
   * the server waited: the grant came that long after the statement started).
   */
  blockingLock(
    key: AdvisoryKey,
    register: Registration | null,
    idleTimeout: string,
    mode: AdvisoryMode = 'exclusive',
  ): Statement {
    const k = keyArgs(key);
    const n = k.values.length + (register ? 2 : 0);
    const stmt = this.prepared(
      `wait_${key.kind}_${mode}${register ? '_register' : ''}`,
      () => `WITH l AS (SELECT ${fn('pg_advisory_lock', mode)}(${k.sql}))${register ? `,\n${this.#registry(k.text, k.values.length, 'l')}` : ''}
SELECT ${this.nextToken}::text AS token, pg_backend_pid() AS pid, ${WAITED_MS}${this.#timeouts ? setIdleTimeout(n + 1) : ''}
FROM l`,
    );
    const values: unknown[] = [...k.values];
    if (register) values.push(register.namespace, register.name);
    if (this.#timeouts) values.push(idleTimeout);
    return { ...stmt, values };
  }

  // The name's registry row, written until this coordinator has seen it done (ON CONFLICT DO
  // NOTHING writes nothing when it exists, but still costs an index probe). `from` yields a row
  // only when the lock is ours.
  #registry(keyText: string, n: number, from: string): string {
    return `r AS (INSERT INTO ${this.#locks} (namespace, name, advisory_key)
  SELECT $${n + 1}::text, $${n + 2}::text, ${keyText} FROM ${from} ON CONFLICT (namespace, name) DO NOTHING)`;
  }

  /** Releases the lock on this session. Columns: `released`, `pid`. */
  unlock(key: AdvisoryKey, mode: AdvisoryMode = 'exclusive'): Statement {
    const k = keyArgs(key);
    const text = () =>
      `SELECT ${fn('pg_advisory_unlock', mode)}(${k.sql}) AS released, pg_backend_pid() AS pid`;
    return { ...this.prepared(`unlock_${key.kind}_${mode}`, text), values: k.values };
  }

  /**
   * Run on another session than the one holding `key` shared: the next token, only if a reader
   * may take `key` now — no writer holds it or waits for it (the transaction-scoped share ends
   * with the statement). Column: `token`.
   */
  readerEntry(key: AdvisoryKey): Statement {
    const k = keyArgs(key);
    const text = () =>
      `SELECT ${this.nextToken}::text AS token WHERE pg_try_advisory_xact_lock_shared(${k.sql})`;
    return { ...this.prepared(`reader_${key.kind}`, text), values: k.values };
  }

  /**
   * Which of `ids` (`classid/objid/objsubid` texts) this session holds, from `pg_locks`; sets
   * `idleTimeout` when given. Columns: `pid`, `held` (text[]).
   */
  held(ids: readonly string[], idleTimeout: string | null = null): Statement {
    const setting = this.#timeouts && idleTimeout !== null;
    const text = () =>
      `SELECT pg_backend_pid() AS pid, ARRAY(SELECT h.id FROM ${HELD_BY_ME} WHERE h.id = ANY($1::text[]))::text[] AS held${setting ? setIdleTimeout(2) : ''}`;
    return {
      ...this.prepared(`held${setting ? '_timeout' : ''}`, text),
      values: setting ? [ids, idleTimeout] : [ids],
    };
  }

  /** Keeps an idle session from its idle timeout, and counts its advisory locks. Columns: `pid`, `held`. */
  keepalive(): Statement {
    const text = () =>
      `SELECT pg_backend_pid() AS pid, (SELECT count(DISTINCT h.id) FROM ${HELD_BY_ME})::int AS held`;
    return { ...this.prepared('keepalive', text), values: [] };
  }

  /** Drops every advisory lock of the session and restores its idle timeout (`null`: leave it). */
  reset(idleTimeout: string | null): Statement {
    const setting = this.#timeouts && idleTimeout !== null;
    const text = () => `SELECT pg_advisory_unlock_all()${setting ? setIdleTimeout(1) : ''}`;
    return {
      ...this.prepared(`reset${setting ? '_timeout' : ''}`, text),
      values: setting ? [idleTimeout] : [],
    };
  }

  /** The named statement of `kind`, its text built on first use. */
  prepared(kind: string, text: () => string): { name: string; text: string } {
    let stmt = this.#cache.get(kind);
    if (!stmt) {
      stmt = named(kind, text());
      this.#cache.set(kind, stmt);
    }
    return stmt;
  }
}

/** How long the statement waited for its lock, in ms (`waited_ms`), measured by the server. */
export const WAITED_MS =
  '(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::float8 AS waited_ms';

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
