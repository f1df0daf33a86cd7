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
 * therefore wait in the server's queue too.
 * @module
 */
import { randomBytes } from 'node:crypto';
import advisoryLockModule from 'advisory-lock';
import pg from 'pg';
import type { BackendProfile, BenchSubject, Contender } from './profile.js';
import { provisionServerTarget } from './server.js';

/** Lease for the suite's lease tests: the adapter's 1 s minimum plus headroom for a loaded machine. */
const POSTGRES_TTL_MS = 2_000;
const COUNTER_TABLE = 'lockstep_compare_counters';

type CreateMutex = (url: string) => (name: string) => {
  lock(): Promise<() => Promise<void>>;
};

// advisory-lock is CommonJS with `exports.default`: depending on the loader, the default import
// is the function itself or the exports object holding it.
const advisoryLock: CreateMutex =
  (advisoryLockModule as unknown as { default?: CreateMutex }).default ??
  (advisoryLockModule as unknown as CreateMutex);

function benchName(what: string): string {
  return `compare-floor/${what}/${randomBytes(4).toString('hex')}`;
}

function randomKey(): string {
  return randomBytes(8).readBigInt64BE(0).toString();
}

async function rawClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function ensureCounterTable(db: pg.Client | pg.Pool): Promise<void> {
  // Concurrent first runs may race on CREATE TABLE IF NOT EXISTS: tolerate the loser's error.
  await db
    .query(`CREATE TABLE IF NOT EXISTS ${COUNTER_TABLE} (name text PRIMARY KEY, value bigint NOT NULL)`)
    .catch(async (error: { code?: string }) => {
      if (error.code !== '23505' && error.code !== '42P07') throw error;
    });
}

export const profile: BackendProfile = {
  name: 'postgres',
  adapterModule: '@lockstep/postgres',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'postgres',
      kind: 'postgres',
      adapterModule: '@lockstep/postgres',
      ttlMs: POSTGRES_TTL_MS,
    }),
  floor: {
    async lockCycle(url): Promise<BenchSubject> {
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
    async counterIncrement(url): Promise<BenchSubject> {
      const client = await rawClient(url);
      const name = benchName('counter');
      return {
        setup: async () => {
          await ensureCounterTable(client);
          await client.query(`INSERT INTO ${COUNTER_TABLE} (name, value) VALUES ($1, 0)`, [name]);
        },
        op: async () => {
          await client.query({
            name: 'floor_incr',
            text: `UPDATE ${COUNTER_TABLE} SET value = value + 1 WHERE name = $1 RETURNING value`,
            values: [name],
          });
        },
        teardown: () => client.end(),
      };
    },
  },
  naive: {
    async counterThroughput64(url): Promise<BenchSubject> {
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      pool.on('error', () => {});
      const name = benchName('naive');
      return {
        setup: () => ensureCounterTable(pool),
        op: async () => {
          await pool.query({
            name: 'naive_upsert',
            text: `INSERT INTO ${COUNTER_TABLE} AS c (name, value) VALUES ($1, 1)
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
      async lockCycle(url): Promise<BenchSubject> {
        const mutex = advisoryLock(url)(benchName('advisory-lock'));
        return {
          op: async () => {
            const unlock = await mutex.lock();
            await unlock();
          },
          teardown: async () => {},
        };
      },
      async lockHandoff(url, n): Promise<Contender[]> {
        const name = benchName('advisory-lock-handoff');
        return Array.from({ length: n }, () => {
          const mutex = advisoryLock(url)(name);
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
  interop: async () => (await import('../interop/postgres.js')).POSTGRES_INTEROP,
};

export default profile;
