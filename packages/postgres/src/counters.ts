/**
 * Counters: one row per counter in `lockstep_counters`, one statement per operation, run
 * through the pool (a counter statement needs no session of its own). Bounds are enforced by
 * the statement itself, so a violating add writes nothing; concurrent adds from one
 * coordinator are merged into one statement by core's coalescing.
 * @module
 */
import {
  type AddOutcome,
  applyDelta,
  type CounterDriver,
  type CounterRef,
  effectiveBounds,
  mapFailures,
} from '@lockstep/core/driver';
import type pg from 'pg';
import type { TableGuard } from './schema.js';
import type { CounterSql, Statement } from './sql.js';

/** What the counter driver needs. */
export interface CounterContext {
  readonly pool: pg.Pool;
  readonly sql: CounterSql;
  readonly tables: TableGuard;
  /** Client-side bound on one statement (pg destroys the connection when it passes). */
  readonly commandTimeoutMs: number;
}

/** The {@link CounterDriver} over a pool. */
export function counterDriver(context: CounterContext): CounterDriver {
  const { sql } = context;
  const run = (doing: string, stmt: Statement) =>
    mapFailures('postgres', doing, () =>
      context.tables.run(() =>
        context.pool.query({
          name: stmt.name,
          text: stmt.text,
          values: stmt.values,
          query_timeout: context.commandTimeoutMs,
        } as pg.QueryConfig),
      ),
    );

  return {
    async get(ref) {
      const result = await run('reading a counter', sql.get(ref.prefixSegment, ref.segment));
      const row = result.rows[0] as { value: string } | undefined;
      return row ? Number(row.value) : 0;
    },

    async add(ref, delta) {
      const { min, max } = effectiveBounds(ref);
      for (;;) {
        const result = await run(
          'adding to a counter',
          sql.add(ref.prefixSegment, ref.segment, delta, min, max),
        );
        const row = result.rows[0] as { value: string | null; seen: string | null };
        if (row.value !== null) return { ok: true, value: Number(row.value) };
        const outcome = refusal(ref, row.seen, delta);
        if (outcome) return outcome;
        // Refused, yet the statement's snapshot says the add fits: the row changed between the
        // snapshot and the guarded write. Nothing was written; ask again.
      }
    },

    async set(ref, value) {
      await run('setting a counter', sql.set(ref.prefixSegment, ref.segment, value));
    },

    async compareAndSet(ref, expected, next) {
      const result = await run(
        'compare-and-set on a counter',
        sql.compareAndSet(ref.prefixSegment, ref.segment, expected, next),
      );
      return (result.rowCount ?? 0) > 0;
    },
  };
}

function refusal(ref: CounterRef, seen: string | null, delta: number): AddOutcome | undefined {
  const outcome = applyDelta(seen === null ? 0 : Number(seen), delta, ref);
  return outcome.ok ? undefined : outcome;
}
