/**
 * postgres:// for `pnpm compare`: one PostgreSQL server from @lockstep/testing (or `--url`).
 *
 * Floors, hand-written with the raw `pg` client (no lockstep):
 * - `floor.lock.cycle`: `pg_try_advisory_lock($1)` then `pg_advisory_unlock($1)` on one
 *   connection, as named prepared statements (parsed once) — the least a Postgres lock can be:
 *   no fencing token, no waiting, no loss detection, no guard against stacking.
 * - `floor.counter.increment`: `UPDATE … SET value = value + 1 … RETURNING value` on one
 *   connection (a prepared statement on a row created in setup).
 * - `naive.counter.throughput64`: one `INSERT … ON CONFLICT DO UPDATE SET value = value + 1`
 *   per call through a `pg.Pool` of 10 (pg's default, and lockstep's default pool size).
 *
 * Peer `advisory-lock` (2.0.0): `lock()` opens a new connection per call and blocks in
 * `pg_advisory_lock`; `unlock()` unlocks and closes it. Its contenders for `lock.handoff`
 * therefore wait in the server's queue too. Its clients have no `'error'` listener and
 * `unlock()` does not wait for the connection to close, so a server stopped soon after can make
 * one throw where nothing catches it (57P01): compare runs each backend in a process of its own
 * for exactly that kind of failure.
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  adapterEntry,
  type BackendProfile,
  type BenchScope,
  type BenchSubject,
  type Contender,
  provisionServerTarget,
  scopedName,
} from '@lockstep/conformance/profile';
import pg from 'pg';
import { connectionStringOf, postgresVersion, quoted, rawClient, runSchema, schemaOf } from './raw.js';

/** Lease for the suite's lease tests: the adapter's 1 s minimum plus headroom for a loaded machine. */
export const POSTGRES_TEST_TTL_MS = 2_000;

type CreateMutex = (url: string) => (name: string) => {
  lock(): Promise<() => Promise<void>>;
};

/**
 * advisory-lock's factory, loaded on first use (so this module loads without it). It is
 * CommonJS with `exports.default`: depending on the loader, the default import is the
 * function itself or the exports object holding it.
 */
async function advisoryLock(
  url: string,
): Promise<(name: string) => { lock(): Promise<() => Promise<void>> }> {
  const module = (await import('advisory-lock')) as { default: CreateMutex | { default: CreateMutex } };
  const create = typeof module.default === 'function' ? module.default : module.default.default;
  return create(connectionStringOf(url));
}

function randomKey(): string {
  return randomBytes(8).readBigInt64BE(0).toString();
}

/** The floors' counter table, in the run's schema. */
function counterTable(url: string): string {
  return `${quoted(schemaOf(url) ?? 'public')}.lockstep_compare_counters`;
}

async function ensureCounterTable(db: pg.Client | pg.Pool, url: string): Promise<void> {
  const schema = schemaOf(url);
  // Concurrent first runs may race on CREATE … IF NOT EXISTS: tolerate the loser's error.
  const tolerateRace = (error: { code?: string }) => {
    if (error.code !== '23505' && error.code !== '42P07' && error.code !== '42P06') throw error;
  };
  if (schema !== undefined)
    await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoted(schema)}`).catch(tolerateRace);
  await db
    .query(`CREATE TABLE IF NOT EXISTS ${counterTable(url)} (name text PRIMARY KEY, value bigint NOT NULL)`)
    .catch(tolerateRace);
}

/** The postgres:// profile. */
export const postgresProfile: BackendProfile = {
  name: 'postgres',
  adapterModule: '@lockstep/postgres',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'postgres',
      kind: 'postgres',
      adapterModule: adapterEntry('@lockstep/postgres', import.meta.resolve),
      ttlMs: POSTGRES_TEST_TTL_MS,
      // Everything of the run lives in a schema of its own, dropped as a whole afterwards.
      query: { schema: runSchema(options.prefix) },
    }),
  serverVersion: postgresVersion,
  async cleanup(url, prefix) {
    const schema = schemaOf(url);
    // Only ever the run's own schema: never drop one the user's URL named.
    if (schema !== runSchema(prefix))
      throw new Error(`cleanup: ${url} is not in the run's schema ${runSchema(prefix)}`);
    const client = await rawClient(url);
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${quoted(schema)} CASCADE`);
    } finally {
      await client.end();
    }
  },
  floor: {
    async lockCycle({ url }): Promise<BenchSubject> {
      const client = await rawClient(url);
      const key = randomKey();
      return {
        op: async () => {
          const taken = await client.query({
            name: 'floor_try',
            text: 'SELECT pg_try_advisory_lock($1::bigint) AS ok',
            values: [key],
          });
          if (taken.rows[0].ok !== true) throw new Error('floor lock unexpectedly held');
          await client.query({
            name: 'floor_unlock',
            text: 'SELECT pg_advisory_unlock($1::bigint)',
            values: [key],
          });
        },
        teardown: () => client.end(),
      };
    },
    async counterIncrement({ url, prefix }): Promise<BenchSubject> {
      const client = await rawClient(url);
      const name = scopedName(prefix, 'floor-counter');
      const table = counterTable(url);
      return {
        setup: async () => {
          await ensureCounterTable(client, url);
          await client.query(`INSERT INTO ${table} (name, value) VALUES ($1, 0)`, [name]);
        },
        op: async () => {
          await client.query({
            name: 'floor_incr',
            text: `UPDATE ${table} SET value = value + 1 WHERE name = $1 RETURNING value`,
            values: [name],
          });
        },
        teardown: () => client.end(),
      };
    },
  },
  naive: {
    async counterThroughput64({ url, prefix }): Promise<BenchSubject> {
      const pool = new pg.Pool({ connectionString: connectionStringOf(url), max: 10 });
      pool.on('error', () => {});
      const name = scopedName(prefix, 'naive-counter');
      const table = counterTable(url);
      return {
        setup: () => ensureCounterTable(pool, url),
        op: async () => {
          await pool.query({
            name: 'naive_upsert',
            text: `INSERT INTO ${table} AS c (name, value) VALUES ($1, 1)
ON CONFLICT (name) DO UPDATE SET value = c.value + 1 RETURNING value`,
            values: [name],
          });
        },
        teardown: () => pool.end(),
      };
    },
  },
  peers: {
    'advisory-lock': {
      async lockCycle({ url, prefix }: BenchScope): Promise<BenchSubject> {
        const mutex = (await advisoryLock(url))(scopedName(prefix, 'advisory-lock'));
        return {
          op: async () => {
            const unlock = await mutex.lock();
            await unlock();
          },
          teardown: async () => {},
        };
      },
      async lockHandoff({ url, prefix }: BenchScope, n: number): Promise<Contender[]> {
        const name = scopedName(prefix, 'advisory-lock-handoff');
        const mutexOf = await advisoryLock(url);
        return Array.from({ length: n }, () => {
          const mutex = mutexOf(name);
          let unlock: (() => Promise<void>) | undefined;
          return {
            acquire: async () => {
              unlock = await mutex.lock();
            },
            release: async () => {
              const held = unlock;
              unlock = undefined;
              await held?.();
            },
            // Each lock() opened its own connection and unlock() closed it: nothing stays open.
            close: async () => {},
          };
        });
      },
    },
  },
  interop: async () => (await import('./interop.js')).POSTGRES_INTEROP,
};
