/**
 * Interop on PostgreSQL (`interop.sql-advisory`): `lock(name, { native: KEY })` takes the
 * plain advisory lock KEY — a bigint or a pair of int4 — so `SELECT pg_advisory_lock(KEY)` from
 * psql or any other client excludes lockstep and the other way round, both ways, while
 * lockstep's fencing tokens (kept in a row beside the key) keep increasing.
 *
 * `psql` must be on PATH (a skip says so otherwise). Every prefix a scenario's coordinators
 * use is a place under the run's scratch root (`ctx.place`).
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { withQueryParam } from '@lockstep/conformance';
import {
  check,
  checkEqual,
  eventually,
  type InteropContext,
  type InteropScenario,
  skipInterop,
  strictlyIncreasing,
  within,
} from '@lockstep/conformance/interop';
import type pg from 'pg';
import { connectionStringOf, rawClient as connectRaw } from './raw.js';

const execFileAsync = promisify(execFile);

const randomKey = (): bigint => randomBytes(8).readBigInt64BE(0);
const randomInt4 = (): number => randomBytes(4).readInt32BE(0);
/** A raw pg client, ended when the scenario ends. */
async function rawClient(ctx: InteropContext, url: string): Promise<pg.Client> {
  const client = await connectRaw(url);
  ctx.defer(() => client.end().catch(() => {}));
  return client;
}

/** `url` with a prefix of its own under the scratch root (lockstep's names; native keys ignore it). */
const withFreshPrefix = (url: string, ctx: InteropContext): string =>
  withQueryParam(url, 'prefix', ctx.place('prefix'));

/** Sessions waiting for an advisory lock in this database. */
async function advisoryWaiters(raw: pg.Client): Promise<number> {
  const result = await raw.query(
    `SELECT count(*)::int AS n FROM pg_locks
     WHERE locktype = 'advisory' AND NOT granted
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return result.rows[0].n as number;
}

/** `psql URL -tAc SQL`'s output, trimmed; skips when psql is not installed. */
async function psql(url: string, sql: string): Promise<string> {
  try {
    return (await execFileAsync('psql', [connectionStringOf(url), '-tAc', sql])).stdout.trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') skipInterop('psql is not on PATH');
    throw error;
  }
}

/** SQL holds a bigint key → lockstep waits; lockstep holds it → SQL waits (both ways). */
async function bigintBothWays(url: string, ctx: InteropContext): Promise<void> {
  const key = randomKey();
  const coord = await ctx.open(withFreshPrefix(url, ctx));
  const sql = await rawClient(ctx, url);
  const observer = await rawClient(ctx, url);
  const lock = coord.lock('reports', { native: key });

  // Direction 1: the SQL client holds it.
  await sql.query('SELECT pg_advisory_lock($1::bigint)', [key.toString()]);
  check((await lock.tryAcquire()) === null, 'lockstep got the key SQL holds');
  const waiting = lock.acquire({ waitMs: 10_000 });
  waiting.catch(() => {});
  await eventually(async () => (await advisoryWaiters(observer)) === 1, 5_000, 'lockstep queued behind SQL');
  await sql.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
  const held = await within(waiting, 5_000, 'lockstep getting the key after SQL released it');

  // Direction 2: lockstep holds it.
  const tried = await sql.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key.toString()]);
  checkEqual(tried.rows[0].ok, false, 'pg_try_advisory_lock while lockstep holds the key');
  let sqlGranted = false;
  const sqlWait = sql.query('SELECT pg_advisory_lock($1::bigint)', [key.toString()]).then(() => {
    sqlGranted = true;
  });
  sqlWait.catch(() => {});
  await eventually(async () => (await advisoryWaiters(observer)) === 1, 5_000, 'SQL queued behind lockstep');
  checkEqual(sqlGranted, false, 'SQL granted while lockstep holds the key');
  await held.release();
  await within(sqlWait, 5_000, 'SQL getting the key after lockstep released it');
  // And psql (a different client altogether) sees it held by SQL now.
  checkEqual(
    await psql(url, `SELECT pg_try_advisory_lock(${key})`),
    'f',
    "psql's try while SQL holds the key",
  );
  await sql.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
  const again = await lock.tryAcquire();
  check(again !== null, 'lockstep could not take the free key');
  check(again.fencingToken > held.fencingToken, `token ${again.fencingToken} not above ${held.fencingToken}`);
  await again.release();
}

/** A pair of int4 keys is the two-key advisory lock, distinct from the bigint space. */
async function int4Pair(url: string, ctx: InteropContext): Promise<void> {
  const pair = [randomInt4(), randomInt4()] as const;
  const coord = await ctx.open(withFreshPrefix(url, ctx));
  const sql = await rawClient(ctx, url);
  const lock = coord.lock('pair', { native: pair });
  await sql.query('SELECT pg_advisory_lock($1::int4, $2::int4)', [...pair]);
  check((await lock.tryAcquire()) === null, 'lockstep got the int4 pair SQL holds');
  // The bigint with the same 64 bits is another key (objsubid 1 vs 2): not blocked.
  const sameBits = (BigInt(pair[0]) << 32n) | BigInt(pair[1] >>> 0);
  const other = await coord.lock('bits', { native: BigInt.asIntN(64, sameBits) }).tryAcquire();
  check(other !== null, 'the bigint with the same bits was blocked by the int4 pair');
  await other.release();
  await sql.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [...pair]);
  const held = await lock.tryAcquire();
  check(held !== null, 'lockstep could not take the free int4 pair');
  checkEqual(
    await psql(url, `SELECT pg_try_advisory_lock(${pair[0]}, ${pair[1]})`),
    'f',
    "psql's try while lockstep holds the pair",
  );
  await held.release();
}

/** Fencing tokens of a native key keep increasing across coordinators, whatever their prefix. */
async function tokensAcrossPrefixes(url: string, ctx: InteropContext): Promise<void> {
  const key = randomKey();
  const a = await ctx.open(withFreshPrefix(url, ctx));
  const b = await ctx.open(withFreshPrefix(url, ctx));
  const tokens: bigint[] = [];
  for (let i = 0; i < 6; i++) {
    const coord = i % 2 === 0 ? a : b;
    const held = await coord.lock(`any-name-${i}`, { native: key }).acquire({ waitMs: 5_000 });
    tokens.push(held.fencingToken);
    await held.release();
  }
  check(strictlyIncreasing(tokens), `tokens not strictly increasing: ${tokens.join(', ')}`);
}

/** Every PostgreSQL interop scenario, all `interop.sql-advisory`. */
export const POSTGRES_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.sql-advisory',
    title: 'SQL holds a bigint key → lockstep waits; lockstep holds it → SQL waits (both ways)',
    run: (target, ctx) => bigintBothWays(target.url, ctx),
  },
  {
    id: 'interop.sql-advisory',
    title: 'a pair of int4 keys is the two-key advisory lock, distinct from the bigint space',
    run: (target, ctx) => int4Pair(target.url, ctx),
  },
  {
    id: 'interop.sql-advisory',
    title: 'fencing tokens of a native key keep increasing across coordinators, whatever their prefix',
    run: (target, ctx) => tokensAcrossPrefixes(target.url, ctx),
  },
];
