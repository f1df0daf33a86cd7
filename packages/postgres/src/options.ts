/**
 * Options of the PostgreSQL adapter, accepted by `connect('postgres://…', options)` (also as
 * URL query parameters, e.g. `?schema=locks&poolSize=20`) and, except the pool ones, by
 * `postgresCoordinator(pool, options)`. Checked before any I/O.
 * @module
 */
import { type ConnectOptions, InvalidArgumentError, validateName } from '@lockstep/core';
import { optionNames, rejectUnknownOptions, validateBoolean, validateTimeoutMs } from '@lockstep/core/driver';

/** Options shared by both ways of building a coordinator. */
export interface PostgresAdapterOptions {
  /** Namespace for every lock and counter name. Default `"lockstep"`. */
  prefix?: string;
  /** Schema holding lockstep's two tables. Default `"public"`. */
  schema?: string;
  /**
   * Create the tables on first use when missing (default `true`). With `false`, run
   * `migrate()` ahead of time; a missing table is then reported as `BackendUnavailableError`.
   */
  createTables?: boolean;
  /**
   * Let PostgreSQL end a lock-holding session that stays silent longer than the shortest TTL
   * it holds (`idle_session_timeout`, PostgreSQL 14+; ignored on older servers). Default `true`.
   * This is what frees the locks of a paused or hung holder whose TCP connection stays open;
   * with `false` such a holder keeps its locks until its connection ends.
   */
  idleSessionTimeout?: boolean;
  /**
   * Most connections one coordinator pins for waiting in PostgreSQL's lock queue (and for the
   * locks those waits win). Waits beyond it fall back to re-trying with backoff. Default 4.
   */
  maxWaitingSessions?: number;
  /**
   * How long a lock statement on a pinned session may go unanswered before the session is
   * abandoned (its locks are then reported lost, and the server frees them when it notices the
   * closed connection). Also bounds counter statements. Default 5000 ms; at most the lock's TTL
   * applies while a session holds locks.
   */
  commandTimeoutMs?: number;
  /**
   * Accept connections that go through a session-mode pooler (detected because the backend's
   * pid differs from the one the connection announced). Every lock statement then checks it
   * still runs on the same backend. Never use a transaction-mode pooler. Default `false`.
   */
  allowSessionPooler?: boolean;
}

/** Options of `connect('postgres://…')`. */
export interface PostgresConnectOptions extends ConnectOptions, PostgresAdapterOptions {
  /** How long connecting may take before `BackendUnavailableError`. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Size of the pool lockstep opens (locks pin 1 + up to `maxWaitingSessions` of it). Default 10. */
  poolSize?: number;
}

/** Validated, defaulted options. */
export interface ResolvedOptions {
  readonly prefix: string | undefined;
  readonly schema: string;
  readonly createTables: boolean;
  readonly idleSessionTimeout: boolean;
  readonly maxWaitingSessions: number;
  readonly commandTimeoutMs: number;
  readonly allowSessionPooler: boolean;
  readonly connectTimeoutMs: number;
  readonly poolSize: number;
}

declare module '@lockstep/core' {
  /** `connect('postgres://…' | 'postgresql://…', options)` takes {@link PostgresConnectOptions}. */
  interface ConnectOptionsByScheme {
    postgres: PostgresConnectOptions;
    postgresql: PostgresConnectOptions;
  }
}

/** Option names of {@link PostgresAdapterOptions} (`postgresCoordinator(pool, options)`). */
export const POOL_ADAPTER_OPTION_NAMES = optionNames<PostgresAdapterOptions>()([
  'prefix',
  'schema',
  'createTables',
  'idleSessionTimeout',
  'maxWaitingSessions',
  'commandTimeoutMs',
  'allowSessionPooler',
]);

/** Option names this adapter reads (removed from the URL before `pg` parses it). */
export const ADAPTER_OPTION_NAMES = optionNames<PostgresConnectOptions>()([
  ...(POOL_ADAPTER_OPTION_NAMES as readonly (keyof PostgresAdapterOptions)[]),
  'connectTimeoutMs',
  'poolSize',
]);

/**
 * Connection-string parameters `pg` itself understands. They stay in the URL for `pg`; any
 * other query parameter that is not one of ours is a mistake and is rejected.
 */
export const PG_URL_PARAMETERS: readonly string[] = (
  'host port user password db encoding client_encoding options application_name ' +
  'fallback_application_name replication ssl sslmode sslcert sslkey sslrootcert sslnegotiation ' +
  'uselibpqcompat statement_timeout lock_timeout idle_in_transaction_session_timeout ' +
  'query_timeout connect_timeout keepalives keepalives_idle'
).split(' ');

/**
 * @param known the option names the caller accepts (`connect()`'s by default).
 * @throws InvalidArgumentError for a malformed or unknown option.
 */
export function resolveOptions(
  options: PostgresConnectOptions,
  known: readonly string[] = ADAPTER_OPTION_NAMES,
  where = 'postgres:// options',
): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  rejectUnknownOptions(options, known, where);
  const prefix = options.prefix;
  if (prefix !== undefined) validateName(prefix, 'prefix');
  return {
    prefix,
    schema: schemaName(options.schema),
    createTables: validateBoolean(options.createTables, 'createTables', true),
    idleSessionTimeout: validateBoolean(options.idleSessionTimeout, 'idleSessionTimeout', true),
    maxWaitingSessions: count(options.maxWaitingSessions, 'maxWaitingSessions', 4, 0),
    commandTimeoutMs: validateTimeoutMs(options.commandTimeoutMs, 'commandTimeoutMs', 5_000),
    allowSessionPooler: validateBoolean(options.allowSessionPooler, 'allowSessionPooler', false),
    connectTimeoutMs: validateTimeoutMs(options.connectTimeoutMs, 'connectTimeoutMs', 5_000),
    poolSize: count(options.poolSize, 'poolSize', 10, 1),
  };
}

function schemaName(value: unknown): string {
  if (value === undefined) return 'public';
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError('schema', `must be a non-empty string, got ${String(value)}`);
  }
  // PostgreSQL truncates identifiers to 63 bytes and text cannot hold NUL.
  if (Buffer.byteLength(value) > 63) throw new InvalidArgumentError('schema', 'must be at most 63 bytes');
  if (value.includes('\0')) throw new InvalidArgumentError('schema', 'must not contain NUL');
  return value;
}

function count(value: unknown, what: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 10_000) {
    throw new InvalidArgumentError(what, `must be an integer from ${min} to 10000, got ${String(value)}`);
  }
  return value;
}
