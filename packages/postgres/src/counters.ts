/**
 * Counters: one row per counter in `lockstep_counters`, one statement per operation, through
 * the pool (a counter needs no session of its own). The statement enforces the bounds, so a
 * violating add writes nothing; concurrent adds from one coordinator are merged into one
 * statement by core's coalescing.
 * @module
 */
import { applyDelta, type CounterDriver, effectiveBounds, mapFailures } from '@lockstep/core/driver';
import type pg from 'pg';
import type { TableGuard } from './schema.js';
import { COUNTERS_TABLE, named, quoteIdentifier } from './sql.js';

/** The statements of the counters in `schema`, each with `namespace = $1, name = $2`. */
function statements(schema: string) {
  const t = `${quoteIdentifier(schema)}.${COUNTERS_TABLE}`;
  const row = 'namespace = $1::text AND name = $2::text';
  const upsert = `INSERT INTO ${t} AS c (namespace, name, value) VALUES ($1::text, $2::text, $3::bigint)
ON CONFLICT (namespace, name) DO UPDATE SET value = EXCLUDED.value`;
  return {
    get: named('counter_get', `SELECT value::text AS value FROM ${t} WHERE ${row}`),
    // The UPDATE guards the bounds on the latest row version (READ COMMITTED re-checks its WHERE
    // after waiting for a concurrent writer); the INSERT covers a counter that does not exist
    // yet, and its ON CONFLICT one created concurrently. Neither writes when a bound would be
    // crossed. `seen` (the statement's snapshot) explains a refusal. $3 delta, $4 min, $5 max.
    add: named(
      'counter_add',
      `WITH upd AS (
  UPDATE ${t} AS c SET value = c.value + $3::bigint
  WHERE ${row} AND c.value + $3::bigint BETWEEN $4::bigint AND $5::bigint
  RETURNING c.value
), ins AS (
  INSERT INTO ${t} AS c (namespace, name, value)
  SELECT $1::text, $2::text, $3::bigint
  WHERE $3::bigint BETWEEN $4::bigint AND $5::bigint AND NOT EXISTS (SELECT 1 FROM ${t} WHERE ${row})
  ON CONFLICT (namespace, name) DO UPDATE SET value = c.value + $3::bigint
  WHERE c.value + $3::bigint BETWEEN $4::bigint AND $5::bigint
  RETURNING c.value
)
SELECT COALESCE((SELECT value FROM upd), (SELECT value FROM ins))::text AS value,
  (SELECT value FROM ${t} WHERE ${row})::text AS seen`,
    ),
    set: named('counter_set', upsert),
    // A counter never written counts as 0, so "expected 0" must also create the row.
    casFromZero: named('counter_cas0', `${upsert} WHERE c.value = 0 RETURNING 1 AS ok`),
    cas: named(
      'counter_cas',
      `UPDATE ${t} SET value = $4::bigint WHERE ${row} AND value = $3::bigint RETURNING 1 AS ok`,
    ),
  };
}

/**
 * The {@link CounterDriver} over `pool`; `commandTimeoutMs` bounds each statement on the client
 * (pg then destroys the connection).
 */
export function counterDriver(
  pool: pg.Pool,
  schema: string,
  tables: TableGuard,
  commandTimeoutMs: number,
): CounterDriver {
  const sql = statements(schema);
  const run = (doing: string, stmt: { name: string; text: string }, values: unknown[]) =>
    mapFailures('postgres', doing, () =>
      tables.run(() => pool.query({ ...stmt, values, query_timeout: commandTimeoutMs } as pg.QueryConfig)),
    );
  return {
    async get(ref) {
      const result = await run('reading a counter', sql.get, [ref.prefixSegment, ref.segment]);
      return result.rows[0] ? Number(result.rows[0].value) : 0;
    },
    async add(ref, delta) {
      const { min, max } = effectiveBounds(ref);
      for (;;) {
        const values = [ref.prefixSegment, ref.segment, delta, min, max];
        const row = (await run('adding to a counter', sql.add, values)).rows[0];
        if (row.value !== null) return { ok: true, value: Number(row.value) };
        const outcome = applyDelta(row.seen === null ? 0 : Number(row.seen), delta, ref);
        if (!outcome.ok) return outcome;
        // Refused, yet the statement's snapshot says the add fits: the row changed between the
        // snapshot and the guarded write. Nothing was written; ask again.
      }
    },
    async set(ref, value) {
      await run('setting a counter', sql.set, [ref.prefixSegment, ref.segment, value]);
    },
    async compareAndSet(ref, expected, next) {
      const [stmt, values] =
        expected === 0
          ? [sql.casFromZero, [ref.prefixSegment, ref.segment, next]]
          : [sql.cas, [ref.prefixSegment, ref.segment, expected, next]];
      return ((await run('compare-and-set on a counter', stmt, values)).rowCount ?? 0) > 0;
    },
  };
}
