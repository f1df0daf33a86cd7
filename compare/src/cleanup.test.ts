/**
 * A compare run against servers given by `--url` — somebody's real servers — leaves nothing
 * behind: everything it writes (suite, interop scenarios, floors, peers) lives under its
 * prefix and is removed afterwards, and data that was there before is untouched.
 */
import { rawClient as etcdClient } from '@lockstep/etcd/testing';
import { rawClient as postgresClient } from '@lockstep/postgres/testing';
import { rawClient as redisClient } from '@lockstep/redis/testing';
import { useServer } from '@lockstep/testing/vitest';
import { describe, expect, it } from 'vitest';
import { type CompareOutcome, runCompare } from './run.js';

const tinyBox = { warmupMs: 20, durationMs: 100, warmupOps: 0 };
/** The whole suite, the interop scenarios and every benchmark, on a short time box. */
const RUN_MS = 600_000;

/** What a test expects of any such run: tests ran, the data was reported removed, nothing crashed. */
function expectRanAndRemoved(outcome: CompareOutcome): void {
  const [row] = outcome.report.backends;
  expect(row!.error).toBeUndefined();
  expect(row!.tests.filter((test) => test.status === 'pass').length).toBeGreaterThan(10);
  expect(Object.keys(row!.bench)).toContain('lock.cycle');
  expect(row!.scratch).toEqual({ prefix: expect.stringMatching(/^lockstep-compare\//), removed: true });
}

describe('a --url run leaves nothing behind', () => {
  describe('redis', () => {
    const redis = useServer('redis');

    it(
      'DBSIZE after == before; a key under the default prefix stays',
      async () => {
        const raw = await redisClient(redis.url);
        try {
          await raw.set('lockstep/lock/app-job', 'owned by an application', 'PX', 600_000);
          const before = await raw.dbsize();
          const outcome = await runCompare({
            backends: ['redis'],
            urls: { redis: redis.url },
            benchTimeBox: tinyBox,
          });
          expectRanAndRemoved(outcome);
          const left = await raw.keys('*');
          expect(left).toEqual(['lockstep/lock/app-job']);
          expect(await raw.dbsize()).toBe(before);
          expect(await raw.get('lockstep/lock/app-job')).toBe('owned by an application');
        } finally {
          raw.disconnect();
        }
      },
      RUN_MS,
    );
  });

  describe('etcd', () => {
    const etcd = useServer('etcd');

    it(
      'the key count after == before; a key under the default prefix stays',
      async () => {
        const raw = etcdClient(etcd.url);
        try {
          await raw.put('lockstep/counters/app').value('41');
          const before = await raw.getAll().count();
          const outcome = await runCompare({
            backends: ['etcd'],
            urls: { etcd: etcd.url },
            benchTimeBox: tinyBox,
          });
          expectRanAndRemoved(outcome);
          expect(await raw.getAll().keys()).toEqual(['lockstep/counters/app']);
          expect(await raw.getAll().count()).toBe(before);
        } finally {
          raw.close();
        }
      },
      RUN_MS,
    );
  });

  describe('postgres', () => {
    const postgres = useServer('postgres');

    /** Every schema and relation outside the system catalogs, and the rows of every table. */
    async function inventory(): Promise<string[]> {
      const raw = await postgresClient(postgres.url);
      try {
        const relations = await raw.query<{ nspname: string; relname: string; relkind: string }>(
          `SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
           ORDER BY 1, 2`,
        );
        const schemas = await raw.query<{ nspname: string }>(
          "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema' ORDER BY 1",
        );
        const rows: string[] = [];
        for (const { nspname, relname, relkind } of relations.rows) {
          if (relkind !== 'r') continue;
          const count = await raw.query(`SELECT count(*)::int AS n FROM "${nspname}"."${relname}"`);
          rows.push(`${nspname}.${relname}: ${count.rows[0].n} rows`);
        }
        return [
          ...schemas.rows.map((s) => `schema ${s.nspname}`),
          ...relations.rows.map((r) => `${r.relkind} ${r.nspname}.${r.relname}`),
          ...rows,
        ];
      } finally {
        await raw.end();
      }
    }

    it(
      'schemas, relations and rows after == before; an application table stays',
      async () => {
        const raw = await postgresClient(postgres.url);
        await raw.query('CREATE TABLE IF NOT EXISTS app_orders (id int PRIMARY KEY)');
        await raw.query('INSERT INTO app_orders VALUES (1) ON CONFLICT DO NOTHING');
        await raw.end();
        const before = await inventory();
        const outcome = await runCompare({
          backends: ['postgres'],
          urls: { postgres: postgres.url },
          benchTimeBox: tinyBox,
        });
        expectRanAndRemoved(outcome);
        expect(await inventory()).toEqual(before);
        expect(before).toContain('public.app_orders: 1 rows');
      },
      RUN_MS,
    );
  });
});
