/**
 * Interop on PostgreSQL (`interop.sql-advisory`): `lock(name, { native: KEY })` takes the
 * plain advisory lock KEY — a bigint or a pair of int4 — so `SELECT pg_advisory_lock(KEY)` from
 * psql or any other client excludes lockstep and the other way round, both ways, while
 * lockstep's fencing tokens (kept in a row beside the key) keep increasing.
 *
 * `interop.sql-advisory.shared`: `readWriteLock(name, { native: KEY })` is the shared advisory
 * lock KEY — lockstep's readers share it with `pg_advisory_lock_shared(KEY)` from SQL, and a
 * writer on either side excludes the readers of both, waiting in the same server queue (a
 * queued writer holds back later readers of both sides).
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

/** Sessions of this database that hold (`granted`) or wait for (`!granted`) KEY in `mode`. */
async function advisoryOn(
  raw: pg.Client,
  key: bigint,
  mode: 'ShareLock' | 'ExclusiveLock',
  granted: boolean,
): Promise<number> {
  const unsigned = BigInt.asUintN(64, key);
  const result = await raw.query(
    `SELECT count(*)::int AS n FROM pg_locks
     WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid AND objsubid = 1
       AND mode = $3 AND granted = $4
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [String(unsigned >> 32n), String(unsigned & 0xffffffffn), mode, granted],
  );
  return result.rows[0].n as number;
}

/** SQL readers and lockstep readers share KEY; a writer on either side excludes both, both ways. */
async function sharedBothWays(url: string, ctx: InteropContext): Promise<void> {
  const key = randomKey();
  const k = key.toString();
  const coord = await ctx.open(withFreshPrefix(url, ctx));
  const sql = await rawClient(ctx, url);
  const observer = await rawClient(ctx, url);
  const rw = coord.readWriteLock('catalog', { native: key });

  // SQL reads: lockstep reads with it, lockstep's writer waits for it.
  await sql.query('SELECT pg_advisory_lock_shared($1::bigint)', [k]);
  const reader = await rw.read.tryAcquire();
  check(reader !== null, "lockstep's reader was refused while only a SQL reader held the key");
  checkEqual(
    await advisoryOn(observer, key, 'ShareLock', true),
    2,
    'shared holders of the key (SQL and lockstep)',
  );
  await reader.release();
  check((await rw.write.tryAcquire()) === null, "lockstep's writer got the key a SQL reader holds");
  const writing = rw.write.acquire({ waitMs: 10_000 });
  writing.catch(() => {});
  await eventually(
    async () => (await advisoryOn(observer, key, 'ExclusiveLock', false)) === 1,
    5_000,
    "lockstep's writer queued behind the SQL reader",
  );
  await sql.query('SELECT pg_advisory_unlock_shared($1::bigint)', [k]);
  const writer = await within(writing, 5_000, "lockstep's writer getting the key after the SQL reader left");

  // lockstep writes: SQL's readers are refused, and a blocking one waits for the release.
  const tried = await sql.query('SELECT pg_try_advisory_lock_shared($1::bigint) AS ok', [k]);
  checkEqual(tried.rows[0].ok, false, "pg_try_advisory_lock_shared while lockstep's writer holds the key");
  let sqlRead = false;
  const sqlWait = sql.query('SELECT pg_advisory_lock_shared($1::bigint)', [k]).then(() => {
    sqlRead = true;
  });
  sqlWait.catch(() => {});
  await eventually(
    async () => (await advisoryOn(observer, key, 'ShareLock', false)) === 1,
    5_000,
    "the SQL reader queued behind lockstep's writer",
  );
  checkEqual(sqlRead, false, "SQL read while lockstep's writer holds the key");
  await writer.release();
  await within(sqlWait, 5_000, "the SQL reader getting the key after lockstep's writer released it");

  // lockstep reads beside SQL again; psql's writer is refused until both are gone.
  const again = await rw.read.acquire({ waitMs: 5_000 });
  check(
    again.fencingToken > writer.fencingToken,
    `read token ${again.fencingToken} not above ${writer.fencingToken}`,
  );
  checkEqual(
    await psql(url, `SELECT pg_try_advisory_lock(${k})`),
    'f',
    "psql's writer while both sides read",
  );
  await again.release();
  await sql.query('SELECT pg_advisory_unlock_shared($1::bigint)', [k]);
  checkEqual(
    await psql(url, `SELECT pg_try_advisory_lock(${k}) AND pg_advisory_unlock(${k})`),
    't',
    "psql's writer once both sides released",
  );
}

/** A writer queued in the server's queue holds back later readers, whichever side each is on. */
async function queuedWriterHoldsBackReaders(url: string, ctx: InteropContext): Promise<void> {
  const key = randomKey();
  const k = key.toString();
  const early = await ctx.open(withFreshPrefix(url, ctx));
  const late = await ctx.open(withFreshPrefix(url, ctx));
  const sqlWriter = await rawClient(ctx, url);
  const sqlReader = await rawClient(ctx, url);
  const observer = await rawClient(ctx, url);
  const held = await early.readWriteLock('r', { native: key }).read.acquire({ waitMs: 5_000 });

  // A SQL writer queues behind lockstep's reader...
  const writing = sqlWriter.query('SELECT pg_advisory_lock($1::bigint)', [k]);
  writing.catch(() => {});
  await eventually(
    async () => (await advisoryOn(observer, key, 'ExclusiveLock', false)) === 1,
    5_000,
    'the SQL writer queued behind the reader',
  );
  // ... and no reader that comes later gets in: not lockstep's (from another coordinator or from
  // the one already reading), not SQL's.
  check(
    (await late.readWriteLock('r', { native: key }).read.tryAcquire()) === null,
    'a later lockstep reader passed the queued SQL writer',
  );
  check(
    (await early.readWriteLock('r', { native: key }).read.tryAcquire()) === null,
    'a second reader of the reading coordinator passed the queued SQL writer',
  );
  const tried = await sqlReader.query('SELECT pg_try_advisory_lock_shared($1::bigint) AS ok', [k]);
  checkEqual(
    tried.rows[0].ok,
    false,
    'a later SQL reader (pg_try_advisory_lock_shared) passed the queued SQL writer',
  );
  const lateRead = late.readWriteLock('r', { native: key }).read.acquire({ waitMs: 10_000 });
  lateRead.catch(() => {});
  await held.release();
  await within(writing, 5_000, 'the SQL writer getting the key once the reader released it');
  checkEqual(
    await advisoryOn(observer, key, 'ShareLock', true),
    0,
    'readers holding the key beside the SQL writer',
  );
  await sqlWriter.query('SELECT pg_advisory_unlock($1::bigint)', [k]);
  const reader = await within(lateRead, 5_000, 'the later lockstep reader getting the key after the writer');
  await reader.release();
}

/** Every PostgreSQL interop scenario: `interop.sql-advisory` (locks) and `.shared` (read-write locks). */
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
  {
    id: 'interop.sql-advisory.shared',
    title: 'SQL and lockstep readers share a key; a writer on either side excludes both (both ways)',
    run: (target, ctx) => sharedBothWays(target.url, ctx),
  },
  {
    id: 'interop.sql-advisory.shared',
    title: 'a writer queued in the server holds back every later reader, SQL or lockstep',
    run: (target, ctx) => queuedWriterHoldsBackReaders(target.url, ctx),
  },
];
