/**
 * consul:// read-write locks against the server from @lockstep/testing (here: the Consul HTTP API
 * emulator, and every title says so): the queue of contenders under one prefix, round trips,
 * tokens from CreateIndex, a waiting writer holding back later readers, sessions per grant,
 * crashed holders, and nothing left behind.
 */
import { type LockHandle, LockTimeoutError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { counted, eventually, freshPrefix, open } from './test-support/helpers.js';
import { RawConsul } from './test-support/raw.js';
import { MIN_TTL_MS, SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';

const consul = useConsul();
const raw = () => new RawConsul(consul().httpUrl);
const contenders = async (prefix: string, name: string) => raw().list(`${prefix}/rwlock/${name}/`);

describe.skipIf(SKIP_REASON !== undefined)(`consul:// read-write locks (${SERVER_LABEL})`, () => {
  it(`reads and writes with ONE /v1/txn request each way at <prefix>/rwlock/<name>/<session>; the token is the contender's CreateIndex (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const { coord, counting } = counted(consul().httpUrl, MIN_TTL_MS, { prefix });
    const rw = coord.readWriteLock('catalog €', { ttlMs: MIN_TTL_MS });
    await (await rw.read.acquire()).release(); // creates the session
    for (const mode of ['read', 'write'] as const) {
      counting.reset();
      const held = await rw[mode].acquire();
      expect(counting.work()).toEqual(['PUT /v1/txn']);
      const [entry, ...others] = await contenders(prefix, 'catalog,20,E2,82,AC');
      expect(others).toEqual([]);
      expect(entry?.Key).toBe(`${prefix}/rwlock/catalog,20,E2,82,AC/${entry?.Session}`);
      expect(entry?.Value).toMatch(new RegExp(`^${mode} [0-9a-f]{32}$`));
      expect(held.fencingToken).toBe(entry?.CreateIndex);
      counting.reset();
      expect(await held.release()).toBe(true);
      expect(counting.work()).toEqual(['PUT /v1/txn']);
      expect(await contenders(prefix, 'catalog,20,E2,82,AC')).toEqual([]);
    }
  });

  it(`holds back readers that come after a waiting writer, and grants in queue order with growing tokens (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b, c] = [
      await open(consul().url, { prefix }),
      await open(consul().url, { prefix }),
      await open(consul().url, { prefix }),
    ];
    const rw = (coord: typeof a) => coord.readWriteLock('q', { ttlMs: MIN_TTL_MS });
    const first = await rw(a).read.acquire();
    const order: string[] = [];
    const writing = rw(b)
      .write.acquire({ waitMs: 10_000 })
      .then((w) => {
        order.push('writer');
        return w;
      });
    await eventually(async () => (await contenders(prefix, 'q')).length === 2, 5_000);
    // A reader could share with the reader holding, but a writer waits ahead of it.
    expect(await rw(c).read.tryAcquire()).toBeNull();
    const reading = rw(c)
      .read.acquire({ waitMs: 10_000 })
      .then((r) => {
        order.push('reader');
        return r;
      });
    await eventually(async () => (await contenders(prefix, 'q')).length === 3, 5_000);
    await first.release();
    const writer = await writing;
    expect(order).toEqual(['writer']);
    expect(writer.fencingToken > first.fencingToken).toBe(true);
    await writer.release();
    const reader = await reading;
    expect(order).toEqual(['writer', 'reader']);
    expect(reader.fencingToken > writer.fencingToken).toBe(true);
    await reader.release();
    expect(await contenders(prefix, 'q')).toEqual([]);
  });

  it(`lets readers of one coordinator share, each on its own session, while refusing a writer (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const rw = coord.readWriteLock('s', { ttlMs: MIN_TTL_MS });
    const readers: LockHandle[] = [await rw.read.acquire(), await rw.read.acquire(), await rw.read.acquire()];
    const sessions = (await contenders(prefix, 's')).map((e) => e.Session);
    expect(new Set(sessions).size).toBe(3);
    expect(await rw.write.tryAcquire()).toBeNull();
    for (const reader of readers) await reader.release();
    const writer = await rw.write.tryAcquire();
    expect(writer).not.toBeNull();
    await writer?.release();
  });

  it(`gives a crashed reader's share back when Consul ends its session: the waiting writer holds (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const reader = await a.readWriteLock('crash', { ttlMs: MIN_TTL_MS }).read.acquire();
    const [entry] = await contenders(prefix, 'crash');
    const writing = b.readWriteLock('crash', { ttlMs: MIN_TTL_MS }).write.acquire({ waitMs: 10_000 });
    await eventually(async () => (await contenders(prefix, 'crash')).length === 2, 5_000);
    await raw().destroySession(entry!.Session!); // what Consul does when the holder stops renewing
    const writer = await writing;
    await eventually(() => reader.signal.aborted, 5_000);
    expect(await reader.release()).toBe(false);
    expect(await writer.isHeld()).toBe(true);
    await writer.release();
  });

  it(`leaves no contender behind when a wait times out or is aborted (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(consul().url, { prefix }), await open(consul().url, { prefix })];
    const writer = await a.readWriteLock('w', { ttlMs: MIN_TTL_MS }).write.acquire();
    const rw = b.readWriteLock('w', { ttlMs: MIN_TTL_MS });
    await expect(rw.read.acquire({ waitMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await contenders(prefix, 'w')).toHaveLength(1);
    const controller = new AbortController();
    const aborted = rw.write.acquire({ signal: controller.signal });
    await eventually(async () => (await contenders(prefix, 'w')).length === 2, 5_000);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(await contenders(prefix, 'w')).toHaveLength(1);
    expect(await rw.read.tryAcquire()).toBeNull();
    expect(await contenders(prefix, 'w')).toHaveLength(1); // a refused try leaves its place too
    await writer.release();
    expect(await contenders(prefix, 'w')).toEqual([]);
  });

  it(`counts a key under the prefix that lockstep did not write, held by its own session, as a writer (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const coord = await open(consul().url, { prefix });
    const other = await raw().createSession({ TTL: '30s', Behavior: 'delete', LockDelay: '0s' });
    expect(await raw().put(`${prefix}/rwlock/f/${other}`, 'not ours', `?acquire=${other}`)).toBe(true);
    expect(await coord.readWriteLock('f', { ttlMs: MIN_TTL_MS }).read.tryAcquire()).toBeNull();
    await raw().destroySession(other);
    const reader = await coord.readWriteLock('f', { ttlMs: MIN_TTL_MS }).read.tryAcquire();
    expect(reader).not.toBeNull();
    await reader?.release();
  });
});
