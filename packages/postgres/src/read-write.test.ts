/**
 * PostgreSQL read-write locks on a real server: a writer queued in the server holds back later
 * readers (their try-locks included), readers of one coordinator share one hold without passing
 * a queued writer, and one coordinator's reads and writes never stack on its own hold.
 */
import { resourceRef } from '@lockstep/core/driver';
import { useServer } from '@lockstep/testing/vitest';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgLocksIdentity, placeLock } from './keys.js';
import { countingPool, eventually, freshPrefix, open, overPool, rawClient, within } from './test-support.js';

const server = useServer('postgres');

/** Sessions holding (or waiting for) `prefix`'s read-write lock `name`, as `mode` and `granted`. */
async function sessionsOn(raw: pg.Client, prefix: string, name: string, mode: string, granted: boolean) {
  const advisory = placeLock(resourceRef(prefix, name), 'rw').advisory;
  const { classid, objid } = pgLocksIdentity(advisory);
  const result = await raw.query(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid
       AND objsubid = 1 AND mode = $3 AND granted = $4`,
    [classid, objid, mode, granted],
  );
  return result.rows.map((r) => r.pid as number);
}

describe('writer progress', () => {
  it('a writer queued in the server holds back later readers, whose try-locks are refused', async () => {
    const prefix = freshPrefix();
    const [first, writerSide, later] = [
      await open(server.url, { prefix }),
      await open(server.url, { prefix }),
      await open(server.url, { prefix }),
    ];
    const raw = await rawClient(server.url);
    const reader = await first.readWriteLock('progress').read.acquire();
    const order: string[] = [];
    const writing = writerSide
      .readWriteLock('progress')
      .write.acquire({ waitMs: 10_000 })
      .then((w) => {
        order.push('writer');
        return w;
      });
    await eventually(
      async () => (await sessionsOn(raw, prefix, 'progress', 'ExclusiveLock', false)).length === 1,
      5_000,
      'the writer queued',
    );
    expect(await later.readWriteLock('progress').read.tryAcquire()).toBeNull();
    const lateRead = later
      .readWriteLock('progress')
      .read.acquire({ waitMs: 10_000 })
      .then((r) => {
        order.push('later reader');
        return r;
      });
    await eventually(
      async () => (await sessionsOn(raw, prefix, 'progress', 'ShareLock', false)).length === 1,
      5_000,
      'the later reader queued',
    );
    await reader.release();
    const writer = await within(writing, 5_000, 'the writer');
    expect(await sessionsOn(raw, prefix, 'progress', 'ShareLock', true)).toEqual([]);
    await writer.release();
    const next = await within(lateRead, 5_000, 'the later reader');
    expect(order).toEqual(['writer', 'later reader']);
    expect(next.fencingToken).toBeGreaterThan(writer.fencingToken);
    await next.release();
  });
});

describe('readers of one coordinator', () => {
  it('share one hold on one connection, each with a token of its own, until the last releases', async () => {
    const prefix = freshPrefix();
    const counted = countingPool(server.url);
    const coord = overPool(counted.pool, { prefix });
    const raw = await rawClient(server.url);
    const read = coord.readWriteLock('shared-hold').read;
    const readers = await Promise.all(Array.from({ length: 8 }, () => read.acquire({ waitMs: 5_000 })));
    const holders = await sessionsOn(raw, prefix, 'shared-hold', 'ShareLock', true);
    expect(holders).toHaveLength(1);
    expect(new Set(readers.map((r) => r.fencingToken)).size).toBe(8);
    // The waiting connections were never needed: only the primary is pinned.
    expect(counted.named('wait_bigint_shared')).toBe(0);
    for (const reader of readers.slice(0, 7)) await reader.release();
    expect(await sessionsOn(raw, prefix, 'shared-hold', 'ShareLock', true)).toEqual(holders);
    expect(await readers[0]!.release()).toBe(false);
    expect(await readers[7]!.isHeld()).toBe(true);
    await readers[7]!.release();
    expect(await sessionsOn(raw, prefix, 'shared-hold', 'ShareLock', true)).toEqual([]);
  });

  // A second shared lock stacked on the same session never waits behind a queued writer (a
  // session's own re-entry is granted at once), and neither would a reader counted locally.
  it('do not pass a writer of another coordinator queued behind them', async () => {
    const prefix = freshPrefix();
    const [readers, writerSide] = [await open(server.url, { prefix }), await open(server.url, { prefix })];
    const raw = await rawClient(server.url);
    const read = readers.readWriteLock('no-passing').read;
    const first = await read.acquire();
    const writing = writerSide.readWriteLock('no-passing').write.acquire({ waitMs: 10_000 });
    await eventually(
      async () => (await sessionsOn(raw, prefix, 'no-passing', 'ExclusiveLock', false)).length === 1,
      5_000,
      'the writer queued',
    );
    expect(await read.tryAcquire()).toBeNull();
    const second = read.acquire({ waitMs: 10_000 });
    await first.release();
    const writer = await within(writing, 5_000, 'the writer');
    await writer.release();
    const reader = await within(second, 5_000, 'the second reader');
    expect(reader.fencingToken).toBeGreaterThan(writer.fencingToken);
    await reader.release();
  });

  it("never upgrade or stack on the coordinator's own hold: its reads and writes exclude each other", async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const raw = await rawClient(server.url);
    const rw = coord.readWriteLock('own');
    const reader = await rw.read.acquire();
    expect(await rw.write.tryAcquire()).toBeNull();
    const writing = rw.write.acquire({ waitMs: 10_000 });
    let wrote = false;
    void writing.then(() => {
      wrote = true;
    });
    // It waits in the server's queue, on a connection of its own, behind its own reader.
    await eventually(
      async () => (await sessionsOn(raw, prefix, 'own', 'ExclusiveLock', false)).length === 1,
      5_000,
      'the writer queued',
    );
    expect(wrote).toBe(false);
    await reader.release();
    const writer = await within(writing, 5_000, 'the writer');
    expect(await rw.read.tryAcquire()).toBeNull();
    await writer.release();
  });
});
