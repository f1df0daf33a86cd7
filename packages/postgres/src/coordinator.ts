/**
 * Building coordinators: from a URL (a pool owned and ended by lockstep) or over the
 * application's own `pg.Pool` (never ended by lockstep).
 * @module
 */
import { type Coordinator, InvalidArgumentError } from '@lockstep/core';
import { type BackendDriver, createCoordinator, withTimeout } from '@lockstep/core/driver';
import pg from 'pg';
import { POSTGRES_CAPABILITIES } from './capabilities.js';
import { counterDriver } from './counters.js';
import { PostgresElections } from './elections.js';
import { connectFailure, NoConnectionInTimeError } from './errors.js';
import { Listener } from './listener.js';
import { LOCK_RECIPE, PostgresLocks, READ_WRITE_RECIPE } from './locks.js';
import {
  ADAPTER_OPTION_NAMES,
  PG_URL_PARAMETERS,
  POOL_ADAPTER_OPTION_NAMES,
  type PostgresAdapterOptions,
  type PostgresConnectOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { TableGuard } from './schema.js';
import { PostgresSemaphores } from './semaphores.js';
import { SessionSet } from './sessions.js';

/**
 * A coordinator over your own `pg.Pool`. lockstep pins at most `1 + maxWaitingSessions` of
 * its connections for locks (the first on first lock use), plus one for listening while a
 * semaphore has waiters or an election observers, and gives them back on `close()`, which
 * leaves the pool itself open. Counters and election reads use `pool.query()`.
 *
 * The pool must connect straight to PostgreSQL (or through a session-mode pooler with
 * `allowSessionPooler: true`): transaction-mode poolers are detected and refused.
 * @throws InvalidArgumentError when `pool` is not a pg.Pool or an option is malformed.
 */
export function postgresCoordinator(pool: pg.Pool, options: PostgresAdapterOptions = {}): Coordinator {
  assertPool(pool);
  const resolved = resolveOptions({ ...options }, POOL_ADAPTER_OPTION_NAMES, 'postgresCoordinator options');
  return createCoordinator(postgresDriver(pool, resolved, false), { prefix: resolved.prefix });
}

/**
 * `connect()` for `postgres://` and `postgresql://`: validates everything before connecting,
 * opens a pool, and pins the primary lock session at once so that a dead address, bad
 * credentials, a pooler or a role that cannot use lockstep's tables fail here (within
 * `connectTimeoutMs`), not at the first lock.
 */
export async function connectFromUrl(url: URL, options: PostgresConnectOptions): Promise<Coordinator> {
  const resolved = resolveOptions(withoutPgParameters(options, url));
  const pool = new pg.Pool({
    connectionString: connectionString(url),
    max: resolved.poolSize,
    connectionTimeoutMillis: resolved.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // Idle pooled connections that drop report here; the next user simply gets a fresh one.
  pool.on('error', () => {});
  const driver = postgresDriver(pool, resolved, true);
  const coordinator = createCoordinator(driver, { prefix: resolved.prefix });
  const { connectTimeoutMs } = resolved;
  const address = `${url.hostname}:${url.port || 5432}`;
  const target = {
    address,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    connectTimeoutMs,
  };
  const opened = driver.sessions
    .primary(connectTimeoutMs)
    .catch((error: unknown) => Promise.reject(connectFailure(error, target)))
    .then((primary) => driver.tables.verify(primary));
  const silence = () => connectFailure(new NoConnectionInTimeError(connectTimeoutMs, false), target);
  try {
    await withTimeout(opened, connectTimeoutMs, silence);
  } catch (error) {
    await coordinator.close().catch(() => {});
    throw error;
  }
  return coordinator;
}

/** A driver and the parts `connect()` needs. */
interface PostgresDriver extends BackendDriver {
  readonly sessions: SessionSet;
  readonly tables: TableGuard;
}

/**
 * The driver over `pool`: sessions for everything held, a listening connection for waits and
 * observers, the pool for counters and election reads, one table guard for all.
 */
function postgresDriver(pool: pg.Pool, options: ResolvedOptions, ownsPool: boolean): PostgresDriver {
  const sessions = new SessionSet({ pool, ...options });
  const tables = new TableGuard(pool, options.schema, options.createTables);
  const listener = new Listener(pool, options.commandTimeoutMs);
  return {
    backend: 'postgres',
    capabilities: POSTGRES_CAPABILITIES,
    locks: new PostgresLocks(sessions, tables, LOCK_RECIPE),
    semaphores: new PostgresSemaphores(sessions, tables, listener),
    readWriteLocks: new PostgresLocks(sessions, tables, READ_WRITE_RECIPE),
    elections: new PostgresElections(sessions, tables, listener, options.schema),
    counters: counterDriver(pool, options.schema, tables, options.commandTimeoutMs),
    sessions,
    tables,
    async close() {
      await Promise.all([sessions.close(), listener.close()]);
      if (ownsPool) await pool.end().catch(() => {});
    },
  };
}

/**
 * `connect()` hands us the URL's query parameters merged with the explicit options. The ones
 * `pg` reads from the URL are its business (it gets the URL); they are only accepted where
 * they came from, the URL — `{ sslmode: 'require' }` as an explicit option would be ignored.
 */
function withoutPgParameters(options: PostgresConnectOptions, url: URL): PostgresConnectOptions {
  const ours: Record<string, unknown> = { ...options };
  for (const name of PG_URL_PARAMETERS) {
    if (url.searchParams.has(name) && !ADAPTER_OPTION_NAMES.includes(name)) delete ours[name];
  }
  return ours as PostgresConnectOptions;
}

/** The URL as pg should see it: our own options removed from the query string. */
function connectionString(url: URL): string {
  const copy = new URL(url.href);
  for (const name of ADAPTER_OPTION_NAMES) copy.searchParams.delete(name);
  return copy.href;
}

function assertPool(pool: unknown): void {
  const p = pool as Partial<pg.Pool> | null;
  if (typeof p?.connect !== 'function' || typeof p.query !== 'function') {
    throw new InvalidArgumentError('pool', 'must be a pg.Pool');
  }
}
