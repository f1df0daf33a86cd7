/**
 * Counters and the tables behind them, on a real server.
 */
import { randomBytes } from 'node:crypto';
import { BackendUnavailableError, CounterBoundError } from '@lockstep/core';
import { encodeName } from '@lockstep/core/driver';
import { useServer } from '@lockstep/testing/vitest';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate } from './schema.js';
import { countingPool, freshPrefix, open, overPool, rawClient } from './test-support.js';

const server = useServer('postgres');

async function rowOf(
  raw: pg.Client,
  schema: string,
  prefix: string,
  name: string,
): Promise<string | undefined> {
  const result = await raw.query(
    `SELECT value::text FROM ${pg.escapeIdentifier(schema)}.lockstep_counters WHERE namespace = $1 AND name = $2`,
    [encodeName(prefix), encodeName(name)],
  );
  return result.rows[0]?.value;
}

describe('counters', () => {
  it('a refused add writes nothing, not even the row of a new counter', async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    const bounded = coord.counter('stock', { min: 0, max: 3 });
    await expect(bounded.decrement()).rejects.toBeInstanceOf(CounterBoundError);
    expect(await rowOf(raw, 'public', prefix, 'stock')).toBeUndefined();
    expect(await bounded.increment(3)).toBe(3);
    const error = await bounded.increment().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CounterBoundError);
    expect(error).toMatchObject({ bound: 'max', limit: 3, attempted: 4 });
    expect(await rowOf(raw, 'public', prefix, 'stock')).toBe('3');
    // A counter object with other bounds sees the same value.
    expect(await coord.counter('stock').increment(10)).toBe(13);
    await expect(bounded.decrement()).rejects.toMatchObject({ bound: 'max', attempted: 12 });
  });

  it('64 concurrent increments from one coordinator take far fewer statements, each result distinct', async () => {
    const counted = countingPool(server.url);
    const coord = overPool(counted.pool, { prefix: freshPrefix() });
    const counter = coord.counter('hits');
    await counter.set(0);
    const before = counted.statements;
    const results = await Promise.all(Array.from({ length: 64 }, () => counter.increment()));
    expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(counted.statements - before).toBeLessThan(16);
    expect(await counter.get()).toBe(64);
  });

  it('bounds hold across clients: of 80 concurrent +1 under max 50, exactly 50 succeed', async () => {
    const prefix = freshPrefix();
    const clients = await Promise.all(Array.from({ length: 4 }, () => open(server.url, { prefix })));
    const outcomes = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        clients[i % 4]!.counter('seats', { max: 50 })
          .increment()
          .then(
            (v) => v,
            (e: unknown) => {
              if (!(e instanceof CounterBoundError)) throw e;
              return null;
            },
          ),
      ),
    );
    const granted = outcomes.filter((v): v is number => v !== null);
    expect(granted.length).toBe(50);
    expect(new Set(granted).size).toBe(50);
    expect(await clients[0]!.counter('seats').get()).toBe(50);
  });

  it('compareAndSet: a never-written counter counts as 0', async () => {
    const coord = await open(server.url, { prefix: freshPrefix() });
    const c = coord.counter('cas');
    expect(await c.compareAndSet(1, 5)).toBe(false);
    expect(await c.compareAndSet(0, 5)).toBe(true);
    expect(await c.compareAndSet(0, 6)).toBe(false);
    expect(await c.compareAndSet(5, 0)).toBe(true);
    expect(await c.compareAndSet(0, 7)).toBe(true);
    expect(await c.get()).toBe(7);
  });

  it('names with NUL, slashes and percent signs are distinct rows, apart from locks of the same name', async () => {
    const coord = await open(server.url, { prefix: freshPrefix() });
    const names = ['a/b', 'a%2Fb', 'nul\u0000inside', 'nul', 'ünï 🔒', '.', '..'];
    for (const [i, name] of names.entries()) await coord.counter(name).set(i + 1);
    for (const [i, name] of names.entries()) expect(await coord.counter(name).get()).toBe(i + 1);
    const lock = await coord.lock('a/b').acquire();
    expect(await coord.counter('a/b').get()).toBe(1);
    await lock.release();
  });

  it('values reach the safe-integer limits and no further', async () => {
    const coord = await open(server.url, { prefix: freshPrefix() });
    const c = coord.counter('big');
    await c.set(Number.MAX_SAFE_INTEGER - 1);
    expect(await c.increment()).toBe(Number.MAX_SAFE_INTEGER);
    await expect(c.increment()).rejects.toBeInstanceOf(CounterBoundError);
    expect(await c.get()).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('tables', () => {
  it('are created on first use in the chosen schema (any identifier)', async () => {
    const schema = `lockstep "test" ${randomBytes(3).toString('hex')}`;
    const coord = await open(server.url, { prefix: freshPrefix(), schema });
    const raw = await rawClient(server.url);
    const [held, value] = await Promise.all([
      coord.lock('first').acquire(),
      coord.counter('first').increment(),
    ]);
    expect(value).toBe(1);
    expect(held.fencingToken).toBe(1n); // the schema's own, fresh sequence
    await held.release();
    const objects = await raw.query(
      `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'S') ORDER BY 1`,
      [schema],
    );
    expect(objects.rows).toEqual([
      { relname: 'lockstep_counters', relkind: 'r' },
      { relname: 'lockstep_elections', relkind: 'r' },
      { relname: 'lockstep_fencing_tokens', relkind: 'S' },
      { relname: 'lockstep_locks', relkind: 'r' },
    ]);
  });

  it('with createTables: false a missing table asks for migrate(); migrate() is idempotent and race-free', async () => {
    const schema = `lockstep_manual_${randomBytes(3).toString('hex')}`;
    const coord = await open(server.url, { prefix: freshPrefix(), schema, createTables: false });
    const error = await coord
      .counter('x')
      .increment()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(String((error as Error).message)).toMatch(/migrate\(\)/);
    const lockError = await coord
      .lock('x')
      .tryAcquire()
      .catch((e: unknown) => e);
    expect(lockError).toBeInstanceOf(BackendUnavailableError);
    const pool = new pg.Pool({ connectionString: server.url, max: 8 });
    try {
      await Promise.all(Array.from({ length: 6 }, () => migrate(pool, { schema })));
    } finally {
      await pool.end();
    }
    expect(await coord.counter('x').increment()).toBe(1);
    const held = await coord.lock('x').tryAcquire();
    expect(held?.fencingToken).toBe(1n);
    await held?.release();
  });
});
