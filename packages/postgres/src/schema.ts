/**
 * What lockstep keeps in its schema, created idempotently: on first use (a statement that fails
 * with "relation does not exist" triggers it once, then is retried) or ahead of time with
 * {@link migrate}, for deployments whose application role may not create tables.
 *
 * - `lockstep_fencing_tokens`: the sequence fencing tokens are drawn from. Sequences never go
 *   back, restarts included, so tokens keep increasing. (With `synchronous_commit = off` a
 *   crash can lose the sequence's last WAL record and re-issue recent tokens — leave it on
 *   where fencing matters.)
 * - `lockstep_locks(namespace, name, advisory_key)`: the full name of every lock beside its
 *   advisory key, written on first use. Two names sharing a key (a 64-bit hash collision, or a
 *   native key) show up as two rows with one `advisory_key`; they then contend for one lock,
 *   which costs waiting, never safety (tokens are global).
 * - `lockstep_counters(namespace, name, value)`: one row per counter.
 * - `lockstep_elections(namespace, name, term, revision, value, vacant)`: the leader of each
 *   election that ever had one — its term, its proclaimed value, and the token-sequence value of
 *   the last write (observers order what they hear by it). Checked at `connect()` only with the
 *   others' privileges in mind: a deployment migrated before elections existed gets it on first
 *   use (or from `migrate()` run again).
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import { hash64 } from '@lockstep/core/driver';
import type pg from 'pg';
import { isMissingTable, sqlState } from './errors.js';
import {
  COUNTERS_TABLE,
  ELECTIONS_TABLE,
  LOCKS_TABLE,
  quoteIdentifier,
  type Statement,
  TOKENS_SEQUENCE,
} from './sql.js';

/** The DDL, in order. */
export function schemaStatements(schema: string): string[] {
  const s = quoteIdentifier(schema);
  return [
    `CREATE SEQUENCE IF NOT EXISTS ${s}.${TOKENS_SEQUENCE} AS bigint`,
    `CREATE TABLE IF NOT EXISTS ${s}.${LOCKS_TABLE} (namespace text NOT NULL, name text NOT NULL,
  advisory_key text NOT NULL, PRIMARY KEY (namespace, name))`,
    `CREATE INDEX IF NOT EXISTS ${LOCKS_TABLE}_advisory_key ON ${s}.${LOCKS_TABLE} (advisory_key)`,
    `CREATE TABLE IF NOT EXISTS ${s}.${COUNTERS_TABLE} (namespace text NOT NULL, name text NOT NULL,
  value bigint NOT NULL, PRIMARY KEY (namespace, name))`,
    `CREATE TABLE IF NOT EXISTS ${s}.${ELECTIONS_TABLE} (namespace text NOT NULL, name text NOT NULL,
  term bigint NOT NULL, revision bigint NOT NULL, value text NOT NULL, vacant boolean NOT NULL,
  PRIMARY KEY (namespace, name))`,
  ];
}

/**
 * Creates the schema (when missing) and lockstep's tables (when missing). Safe to run
 * concurrently from many processes: the DDL runs in one transaction under a
 * transaction-scoped advisory lock, so two first users cannot race on `CREATE TABLE`.
 *
 * Needs a plain pool or connection (not a transaction-mode pooler: it uses a transaction).
 * A pool client is taken and returned; a `pg.Client` is used as is.
 * @param db a `pg.Pool` or `pg.Client`
 * @param options.schema default `"public"`
 */
export async function migrate(db: pg.Pool | pg.Client, options: { schema?: string } = {}): Promise<void> {
  const schema = options.schema ?? 'public';
  const isPool = typeof (db as pg.Pool).totalCount === 'number';
  const client = isPool ? await (db as pg.Pool).connect() : (db as pg.Client);
  let failed: unknown;
  try {
    await client.query('BEGIN');
    try {
      // hash64 keeps this out of the keys lockstep locks use (different parts).
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [
        hash64('lockstep-migrate', schema).toString(),
      ]);
      const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      // Only create the schema when missing: CREATE SCHEMA IF NOT EXISTS still needs the CREATE
      // privilege on the database, which an application role often lacks.
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      for (const ddl of schemaStatements(schema)) await client.query(ddl);
      await client.query('COMMIT');
    } catch (error) {
      failed = error;
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    // A connection-level failure (no SQLSTATE) leaves a connection not worth reusing.
    if (isPool) (client as pg.PoolClient).release(failed instanceof Error && sqlState(failed) === undefined);
  }
}

/**
 * Runs statements that need lockstep's tables, creating them once when a statement finds them
 * missing (then retrying it). A statement that fails on a missing table was refused while being
 * parsed, before it could take a lock or write anything, so the retry is safe.
 */
export class TableGuard {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #create: boolean;
  #creating: Promise<void> | undefined;

  constructor(pool: pg.Pool, schema: string, create: boolean) {
    this.#pool = pool;
    this.#schema = schema;
    this.#create = create;
  }

  run<T>(op: () => Promise<T>): Promise<T> {
    return op().catch((error: unknown) => this.recover(error, op));
  }

  /** What {@link run} does with a failure of `op`: creates the tables and retries, or rethrows. */
  async recover<T>(error: unknown, op: () => Promise<T>): Promise<T> {
    if (!isMissingTable(error)) throw error;
    if (!this.#create) throw tablesMissing(this.#schema, error);
    await this.ensure();
    return op();
  }

  /** Creates the tables (once per guard, again after a failure). */
  ensure(): Promise<void> {
    this.#creating ??= migrate(this.#pool, { schema: this.#schema }).catch((error) => {
      this.#creating = undefined;
      throw sqlState(error) === INSUFFICIENT_PRIVILEGE
        ? cannotCreate(this.#schema, 'this role', (error as Error).message, error)
        : error;
    });
    return this.#creating;
  }

  /**
   * Checks, over `session`, that this role can use lockstep's schema and, when the tables are
   * missing and createTables is on, create them — so that `connect()` reports a role without
   * the privileges, not the first lock.
   */
  async verify(session: { run(stmt: Statement): Promise<pg.QueryResult> }): Promise<void> {
    const access = (await session.run(accessStatement(this.#schema))).rows[0] as SchemaAccess;
    const role = `role "${access.role}"`;
    if (access.schema_exists && !access.can_use) {
      throw new BackendUnavailableError(
        'postgres',
        `${role} cannot use schema "${this.#schema}" — it has no USAGE privilege on it. ` +
          `GRANT USAGE ON SCHEMA ${quoteIdentifier(this.#schema)} TO ${quoteIdentifier(access.role)}, or pick a schema this role owns with ?schema=<name>.`,
      );
    }
    // Without createTables, missing tables are reported when used: a migration may still be on its way.
    if (access.present === LOCKSTEP_RELATIONS.length || !this.#create || access.can_create) return;
    const why = access.schema_exists
      ? 'it has no CREATE privilege on the schema (PostgreSQL 15 and later give ordinary roles none on public)'
      : `the schema does not exist and it may not create schemas in database "${access.database}"`;
    throw cannotCreate(this.#schema, role, why);
  }
}

/** SQLSTATE 42501: the role lacks a privilege. */
const INSUFFICIENT_PRIVILEGE = '42501';

/** Everything {@link migrate} creates that the lock and counter statements use. */
const LOCKSTEP_RELATIONS = [TOKENS_SEQUENCE, LOCKS_TABLE, COUNTERS_TABLE];

/** What the current role may do with lockstep's schema (one row). */
interface SchemaAccess {
  readonly role: string;
  readonly database: string;
  readonly schema_exists: boolean;
  readonly can_use: boolean;
  /** CREATE on the schema, or on the database when the schema is missing. */
  readonly can_create: boolean;
  /** How many of {@link LOCKSTEP_RELATIONS} exist in the schema. */
  readonly present: number;
}

// The catalogs are readable by every role, whatever its privileges on the schema itself.
function accessStatement(schema: string): Statement {
  return {
    name: 'lockstep_schema_access',
    text: `SELECT current_user AS role, current_database() AS database,
  n.oid IS NOT NULL AS schema_exists,
  n.oid IS NULL OR has_schema_privilege(n.oid, 'USAGE') AS can_use,
  CASE WHEN n.oid IS NULL THEN has_database_privilege(current_database(), 'CREATE')
       ELSE has_schema_privilege(n.oid, 'CREATE') END AS can_create,
  (SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = ANY($2::text[])) AS present
FROM (VALUES ($1::text)) AS s(name) LEFT JOIN pg_namespace n ON n.nspname = s.name`,
    values: [schema, LOCKSTEP_RELATIONS],
  };
}

function tablesMissing(schema: string, cause?: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    'postgres',
    `lockstep's tables are missing in schema "${schema}" — createTables is false. ` +
      'Run migrate() from @lockstep/postgres once (as a role that may create them), or leave createTables on.',
    { cause },
  );
}

function cannotCreate(schema: string, role: string, why: string, cause?: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    'postgres',
    `${role} cannot create lockstep's tables in schema "${schema}" — ${why}. ` +
      'Run migrate() from @lockstep/postgres once as a role that may (the schema owner or a superuser), ' +
      'then grant this role SELECT, INSERT, UPDATE on the tables and USAGE on the sequence; ' +
      'or use a schema this role owns: ?schema=<name>.',
    { cause },
  );
}
