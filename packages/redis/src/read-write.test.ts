/**
 * redis:// read-write locks against a real redis-server: their own keys, one script per
 * operation, a reader behind a waiting writer waits (and a writer that leaves the queue lets
 * it in at once), and each reader's lease lapses on its own.
 */
import { describe, expect, it } from 'vitest';
import {
  abortedAfter,
  commandCalls,
  delay,
  eventually,
  freshPrefix,
  open,
  rawClient,
  within,
} from './test-support/helpers.js';
import { useRedisServer } from './test-support/servers.js';

const redis = useRedisServer();
const url = () => redis.handle.url;

/**
 * Three coordinators under a fresh prefix: `a` reads `name`, and `b`'s writer (with `signal`)
 * is queued behind it; `c` is free to ask. `queue()` counts the waiters on the server.
 */
async function writerQueuedBehindReader(name: string, signal?: AbortSignal) {
  const prefix = freshPrefix();
  const [a, b, c] = [
    await open(url(), { prefix }),
    await open(url(), { prefix }),
    await open(url(), { prefix }),
  ];
  const raw = rawClient(url());
  const queue = () => raw.zcard(`${prefix}/rw-queue/${name}`);
  const reading = await a.readWriteLock(name).read.acquire();
  const writer = b.readWriteLock(name).write.acquire({ waitMs: 20_000, signal });
  writer.catch(() => {});
  await eventually(async () => expect(await queue()).toBe(1));
  return { reader: () => c.readWriteLock(name).read, reading, writer, queue };
}

describe('redis:// read-write locks', () => {
  it('keeps readers and the writer in their own keys, apart from the lock and semaphore of the name, one EVALSHA per grant', async () => {
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix });
    const raw = rawClient(url());
    const rw = coord.readWriteLock('doc/1');
    await (await rw.read.acquire()).release(); // load the script
    await raw.config('RESETSTAT');
    const readers = [await rw.read.acquire(), await rw.read.acquire()];
    expect(await commandCalls(raw, 'evalsha')).toBe(2);
    expect(await raw.zcard(`${prefix}/rw/doc%2F1`)).toBe(2);
    // Each reader has its own token, recorded beside its lease.
    const tokens = await raw.zrange(`${prefix}/rw-tokens/doc%2F1`, 0, -1, 'WITHSCORES');
    expect(tokens.filter((_, i) => i % 2 === 1).sort()).toEqual(
      readers.map((r) => String(r.fencingToken)).sort(),
    );
    expect(await raw.get(`${prefix}/rw-fence/doc%2F1`)).toBe(String(readers[1]!.fencingToken));
    // The lock and the semaphore of the same name are other things.
    const lock = await coord.lock('doc/1').tryAcquire();
    const permit = await coord.semaphore('doc/1', { permits: 1 }).tryAcquire();
    expect(lock).not.toBeNull();
    expect(permit).not.toBeNull();
    expect(await rw.write.tryAcquire()).toBeNull();
    for (const reader of readers) expect(await reader.release()).toBe(true);
    const writer = await rw.write.tryAcquire();
    expect(writer!.fencingToken > readers[1]!.fencingToken).toBe(true);
    expect(await rw.read.tryAcquire()).toBeNull();
    await writer!.release();
    await lock!.release();
    await permit!.release();
    for (const kind of ['rw', 'rw-limits', 'rw-tokens', 'rw-queue', 'rw-waiting', 'rw-asks']) {
      expect(await raw.exists(`${prefix}/${kind}/doc%2F1`)).toBe(0);
    }
  });

  it('a reader that comes after a waiting writer waits behind it, across coordinators', async () => {
    const { reader, reading, writer, queue } = await writerQueuedBehindReader('q');
    // Readers hold, but a writer waits: a new reader neither passes it nor takes a lone try.
    expect(await reader().tryAcquire()).toBeNull();
    let readerAt: number | undefined;
    const read = reader()
      .acquire({ waitMs: 20_000 })
      .then((handle) => {
        readerAt = performance.now();
        return handle;
      });
    await eventually(async () => expect(await queue()).toBe(2));
    await reading.release();
    const writing = await writer;
    const writerAt = performance.now();
    await delay(100);
    expect(readerAt).toBeUndefined();
    await writing.release();
    await (await read).release();
    expect(readerAt! > writerAt).toBe(true);
    expect(await queue()).toBe(0);
  }, 30_000);

  it('a writer that leaves the queue lets the readers it held back in at once', async () => {
    const stop = new AbortController();
    const { reader, reading, writer, queue } = await writerQueuedBehindReader('leave', stop.signal);
    const read = reader().acquire({ waitMs: 20_000 });
    await eventually(async () => expect(await queue()).toBe(2));
    // Past the reader's first re-check (250 ms); its next is 500 ms later.
    await delay(400);
    const leftAt = performance.now();
    stop.abort(new Error('not now'));
    await expect(writer).rejects.toThrow('not now');
    const granted = await read;
    expect(performance.now() - leftAt).toBeLessThan(200);
    await granted.release();
    await reading.release();
    expect(await queue()).toBe(0);
  }, 30_000);

  it('a reader that stops renewing loses its share at its own lease end while another reader keeps renewing', async () => {
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix });
    const other = await open(url(), { prefix });
    const raw = rawClient(url());
    const stalled = await coord.readWriteLock('lapse', { ttlMs: 600, autoExtend: false }).read.acquire();
    const renewing = await other.readWriteLock('lapse', { ttlMs: 600 }).read.acquire();
    const start = performance.now();
    await within(abortedAfter(stalled.signal, start), 3_000, "the stalled reader's signal");
    await delay(1_200); // two more renewals of the other reader
    expect(await stalled.isHeld()).toBe(false);
    expect(await stalled.release()).toBe(false);
    expect(await renewing.isHeld()).toBe(true);
    // Only the renewing reader's entry is left (the stalled one was dropped by the release above).
    expect(await raw.zcard(`${prefix}/rw/lapse`)).toBe(1);
    expect(await other.readWriteLock('lapse').write.tryAcquire()).toBeNull();
    await renewing.release();
    const writer = await other.readWriteLock('lapse').write.tryAcquire();
    expect(writer).not.toBeNull();
    await writer!.release();
  }, 30_000);
});
