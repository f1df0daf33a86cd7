/**
 * The PostgreSQL {@link BackendDriver}: sessions for locks, the pool for counters, one table
 * guard for both.
 * @module
 */
import type { BackendDriver } from '@lockstep/core';
import type pg from 'pg';
import { POSTGRES_CAPABILITIES } from './capabilities.js';
import { counterDriver } from './counters.js';
import { PostgresLocks } from './locks.js';
import type { ResolvedOptions } from './options.js';
import { TableGuard } from './schema.js';
import { SessionSet } from './sessions.js';
import { CounterSql } from './sql.js';

/** A driver and the handles tests and `connect()` need. */
export interface PostgresDriver extends BackendDriver {
  readonly sessions: SessionSet;
  readonly tables: TableGuard;
}

/** Builds the driver over `pool`; `ownsPool` says whether `close()` ends it. */
export function postgresDriver(
  pool: pg.Pool,
  options: Omit<ResolvedOptions, 'prefix' | 'connectTimeoutMs' | 'poolSize'>,
  ownsPool: boolean,
): PostgresDriver {
  const sessions = new SessionSet({
    pool,
    schema: options.schema,
    idleSessionTimeout: options.idleSessionTimeout,
    maxWaitingSessions: options.maxWaitingSessions,
    commandTimeoutMs: options.commandTimeoutMs,
    allowSessionPooler: options.allowSessionPooler,
  });
  const tables = new TableGuard(pool, options.schema, options.createTables);
  return {
    backend: 'postgres',
    capabilities: POSTGRES_CAPABILITIES,
    locks: new PostgresLocks(sessions, tables),
    counters: counterDriver({
      pool,
      sql: new CounterSql(options.schema),
      tables,
      commandTimeoutMs: options.commandTimeoutMs,
    }),
    sessions,
    tables,
    async close() {
      await sessions.close();
      if (ownsPool) await pool.end().catch(() => {});
    },
  };
}
