/**
 * Issue 10, PostgreSQL part (`interop.sql-advisory`): `lock(name, { native: KEY })` takes the
 * plain advisory lock KEY — a bigint or a pair of int4 — so `SELECT pg_advisory_lock(KEY)` from
 * psql or any other client excludes lockstep and the other way round, both ways, while
 * lockstep's fencing tokens (kept in a row beside the key) keep increasing.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { hash64, InvalidArgumentError } from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import { describe, expect, it } from 'vitest';
import { advisoryKeyOf } from './index.js';
import { advisoryLocks, eventually, freshPrefix, open, rawClient, within } from './test-support.js';

const run = promisify(execFile);
const server = useServer('postgres');

function randomKey(): bigint {
  return randomBytes(8).readBigInt64BE(0);
}

function randomInt4(): number {
  return randomBytes(4).readInt32BE(0);
}

async function rawWaiters(raw: Awaited<ReturnType<typeof rawClient>>): Promise<number> {
  return (await advisoryLocks(raw)).filter((r) => !r.granted).length;
}

describe('interop.sql-advisory: plain SQL advisory locks and lockstep exclude each other', () => {
  it('SQL holds a bigint key → lockstep waits; lockstep holds it → SQL waits (both ways)', async () => {
    const key = randomKey();
    const coord = await open(server.url, { prefix: freshPrefix() });
    const sql = await rawClient(server.url);
    const observer = await rawClient(server.url);
    const lock = coord.lock('reports', { native: key });

    // Direction 1: the SQL client holds it.
    await sql.query('SELECT pg_advisory_lock($1::bigint)', [key.toString()]);
    expect(await lock.tryAcquire()).toBeNull();
    const waiting = lock.acquire({ waitMs: 10_000 });
    await eventually(async () => (await rawWaiters(observer)) === 1, 5_000, 'lockstep queued behind SQL');
    await sql.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
    const held = await within(waiting, 5_000, 'lockstep getting the key after SQL released it');

    // Direction 2: lockstep holds it.
    const tried = await sql.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key.toString()]);
    expect(tried.rows[0].ok).toBe(false);
    let sqlGranted = false;
    const sqlWait = sql.query('SELECT pg_advisory_lock($1::bigint)', [key.toString()]).then(() => {
      sqlGranted = true;
    });
    await eventually(async () => (await rawWaiters(observer)) === 1, 5_000, 'SQL queued behind lockstep');
    expect(sqlGranted).toBe(false);
    await held.release();
    await within(sqlWait, 5_000, 'SQL getting the key after lockstep released it');
    // And psql (a different client altogether) sees it held by SQL now.
    const psql = await run('psql', [server.url, '-tAc', `SELECT pg_try_advisory_lock(${key})`]);
    expect(psql.stdout.trim()).toBe('f');
    await sql.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
    const again = await lock.tryAcquire();
    expect(again?.fencingToken).toBeGreaterThan(held.fencingToken);
    await again?.release();
  });

  it('a pair of int4 keys is the two-key advisory lock, distinct from the bigint space', async () => {
    const pair = [randomInt4(), randomInt4()] as const;
    const coord = await open(server.url, { prefix: freshPrefix() });
    const sql = await rawClient(server.url);
    const lock = coord.lock('pair', { native: pair });
    await sql.query('SELECT pg_advisory_lock($1::int4, $2::int4)', [...pair]);
    expect(await lock.tryAcquire()).toBeNull();
    // The bigint with the same 64 bits is another key (objsubid 1 vs 2): not blocked.
    const sameBits = (BigInt(pair[0]) << 32n) | BigInt(pair[1] >>> 0);
    const other = await coord.lock('bits', { native: BigInt.asIntN(64, sameBits) }).tryAcquire();
    expect(other).not.toBeNull();
    await other?.release();
    await sql.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [...pair]);
    const held = await lock.tryAcquire();
    expect(held).not.toBeNull();
    const psql = await run('psql', [
      server.url,
      '-tAc',
      `SELECT pg_try_advisory_lock(${pair[0]}, ${pair[1]})`,
    ]);
    expect(psql.stdout.trim()).toBe('f');
    await held?.release();
  });

  it('fencing tokens of a native key keep increasing across coordinators, whatever their prefix', async () => {
    const key = randomKey();
    const a = await open(server.url, { prefix: freshPrefix() });
    const b = await open(server.url, { prefix: freshPrefix() });
    const tokens: bigint[] = [];
    for (let i = 0; i < 6; i++) {
      const coord = i % 2 === 0 ? a : b;
      const held = await coord.lock(`any-name-${i}`, { native: key }).acquire({ waitMs: 5_000 });
      tokens.push(held.fencingToken);
      await held.release();
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
  });

  it('a name whose hash equals a native key only contends with it; both are recorded beside the key', async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const other = await open(server.url, { prefix });
    const byName = await coord.lock('collides').acquire();
    // The same advisory key, reached another way: exactly what a hash collision would be.
    expect(advisoryKeyOf('collides', prefix)).toBe(hash64(prefix, 'collides'));
    const byKey = other.lock('elsewhere', { native: advisoryKeyOf('collides', prefix) });
    expect(await byKey.tryAcquire()).toBeNull();
    await byName.release();
    const keyHeld = await byKey.tryAcquire();
    expect(keyHeld?.fencingToken).toBeGreaterThan(byName.fencingToken);
    await keyHeld?.release();
    const nameAgain = await coord.lock('collides').acquire();
    expect(nameAgain.fencingToken).toBeGreaterThan(keyHeld!.fencingToken);
    await nameAgain.release();
    // The registry shows both users of the one advisory key.
    const raw = await rawClient(server.url);
    const key = hash64(prefix, 'collides').toString();
    const rows = await raw.query(
      'SELECT namespace, name FROM lockstep_locks WHERE advisory_key = $1 ORDER BY 1',
      [key],
    );
    expect(rows.rows).toEqual([
      { namespace: '', name: key },
      { namespace: prefix, name: 'collides' },
    ]);
  });

  it('rejects anything but a bigint or an int4 pair before any I/O', async () => {
    const coord = await open(server.url, { prefix: freshPrefix() });
    const bad: unknown[] = [
      '42',
      42,
      2n ** 63n,
      -(2n ** 63n) - 1n,
      [1],
      [1, 2, 3],
      [1.5, 2],
      [2 ** 31, 0],
      ['1', 2],
    ];
    for (const native of bad) {
      expect(() => coord.lock('bad', { native: native as never }), String(native)).toThrow(
        InvalidArgumentError,
      );
    }
    expect(() => coord.lock('ok', { native: 2n ** 63n - 1n })).not.toThrow();
    expect(() => coord.lock('ok', { native: [-(2 ** 31), 2 ** 31 - 1] })).not.toThrow();
  });
});
