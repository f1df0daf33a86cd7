import { checkPermits, type PermitHold } from '../checkers/permits.js';
import { check, checkEqual } from './assert.js';
import { fencedToken, primitiveCaps, requirePrimitive } from './support.js';
import { fmt, leaseSlackMs } from './timing.js';
import type { ConformanceTest } from './types.js';

/** A recorded grant and its side. */
interface ModeHold extends PermitHold {
  readonly mode: 'read' | 'write';
}

const EXCLUSIVE_CLIENTS = 5;
const EXCLUSIVE_CYCLES = 16;

export const rwlockExclusive: ConformanceTest = {
  id: 'rwlock.exclusive',
  title: 'a writer excludes readers and writers (interval checker)',
  requires: requirePrimitive('readWrite'),
  timeoutMs: 120_000,
  async run(ctx) {
    const caps = primitiveCaps(ctx.capabilities, 'readWrite')!;
    const clients = await ctx.clients(EXCLUSIVE_CLIENTS);
    const name = ctx.name('rw-exclusive');
    const holds: ModeHold[] = [];
    await Promise.all(
      clients.map(async (client, index) => {
        const rw = client.readWriteLock(name);
        for (let cycle = 0; cycle < EXCLUSIVE_CYCLES; cycle++) {
          // Every client writes a quarter of the time, in a different phase.
          const mode = (cycle + index) % 4 === 0 ? 'write' : 'read';
          const requestedAt = performance.now();
          const handle = await rw[mode].acquire({ waitMs: 60_000, signal: ctx.signal });
          const acquiredAt = performance.now();
          await new Promise((resolve) => setTimeout(resolve, 1 + (cycle % 3)));
          const releasedAt = performance.now();
          const fencingToken = fencedToken(handle, caps);
          holds.push({
            client: `client-${index}`,
            mode,
            requestedAt,
            acquiredAt,
            releasedAt,
            ...(fencingToken === undefined ? {} : { fencingToken }),
          });
          await handle.release();
        }
      }),
    );
    const writes = holds.filter((h) => h.mode === 'write');
    const overlapping = writes.flatMap((w) =>
      holds
        .filter((h) => h !== w && h.acquiredAt < w.releasedAt && w.acquiredAt < h.releasedAt)
        .map((h) => [w, h] as const),
    );
    const first = overlapping[0];
    check(
      overlapping.length === 0,
      `a writer held together with ${overlapping.length} other grant(s)` +
        (first ? `: ${first[0].client} (write) and ${first[1].client} (${first[1].mode})` : ''),
    );
    // Tokens: distinct, and a grant certainly after another has a larger one (reads run together).
    const tokens = checkPermits(holds, Number.MAX_SAFE_INTEGER);
    check(tokens.duplicateTokens.length === 0, 'two grants carried the same token');
    const inversion = tokens.tokenInversions[0];
    check(
      !inversion,
      `a grant after another (token ${inversion?.earlier.fencingToken}) got a token not larger: ${inversion?.later.fencingToken}`,
    );
    const reads = holds.length - writes.length;
    ctx.log(
      `${holds.length} grants (${writes.length} writes, ${reads} reads); readers shared up to ${tokens.maxConcurrent} at once`,
    );
    checkEqual(holds.length, EXCLUSIVE_CLIENTS * EXCLUSIVE_CYCLES, 'number of grants');
  },
};

const SHARED_READERS = 3;

export const rwlockShared: ConformanceTest = {
  id: 'rwlock.shared',
  title: 'K readers hold at once',
  requires: requirePrimitive('readWrite'),
  async run(ctx) {
    const clients = await ctx.clients(SHARED_READERS + 1);
    const name = ctx.name('rw-shared');
    const readers = await Promise.all(
      clients.slice(0, SHARED_READERS).map((c) => c.readWriteLock(name).read.acquire({ waitMs: 10_000 })),
    );
    for (const reader of readers)
      checkEqual(await reader.isHeld(), true, 'isHeld() of a reader while others read');
    const writer = await clients[SHARED_READERS]!.readWriteLock(name).write.tryAcquire();
    if (writer) await writer.release();
    check(writer === null, `a writer got the lock while ${SHARED_READERS} readers held it`);
    for (const reader of readers) await reader.release();
    const after = await clients[SHARED_READERS]!.readWriteLock(name).write.tryAcquire();
    check(after !== null, 'the writer got nothing once every reader had released');
    await after.release();
    ctx.log(`${SHARED_READERS} readers held at once; a writer was refused until they all released`);
  },
};

/** How long the writer may wait behind a stream of readers that each hold about 20 ms. */
const WRITER_BOUND_MS = 5_000;

export const rwlockWriterProgress: ConformanceTest = {
  id: 'rwlock.writer-progress',
  title: 'a writer queued behind a continuous stream of readers is granted within a bound',
  requires: (caps) =>
    requirePrimitive('readWrite')(caps) ??
    (caps.readWrite?.supported && caps.readWrite.writerProgress === 'queued'
      ? undefined
      : "capability readWrite.writerProgress: 'none' declared (new readers may pass a waiting writer)"),
  timeoutMs: 60_000,
  async run(ctx) {
    const clients = await ctx.clients(4);
    const name = ctx.name('rw-progress');
    let stop = false;
    let readsDuring = 0;
    // Three readers taking turns so that at every moment at least one reads.
    const streams = clients.slice(0, 3).map(async (client, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * 7));
      const read = client.readWriteLock(name).read;
      while (!stop) {
        const handle = await read.acquire({ waitMs: 30_000, signal: ctx.signal });
        readsDuring++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        await handle.release();
      }
    });
    await ctx.sleep(200);
    const started = performance.now();
    const before = readsDuring;
    const writer = await clients[3]!
      .readWriteLock(name)
      .write.acquire({ waitMs: WRITER_BOUND_MS, signal: ctx.signal })
      .finally(() => {
        stop = true;
      });
    const waited = performance.now() - started;
    await writer.release();
    await Promise.all(streams);
    check(
      readsDuring > before,
      'the readers stopped reading on their own: nothing tested the writer against a stream',
    );
    ctx.log(`the writer waited ${fmt(waited)} behind a stream of readers (${readsDuring} reads in all)`);
  },
};

export const rwlockExpiry: ConformanceTest = {
  id: 'rwlock.expiry',
  title: 'a reader or writer that stops renewing loses its share after its lease; others then acquire',
  requires: requirePrimitive('readWrite'),
  timeoutMs: 90_000,
  async run(ctx) {
    const caps = primitiveCaps(ctx.capabilities, 'readWrite')!;
    const [a, b] = await ctx.clients(2);
    const name = ctx.name('rw-expiry');
    const bound = (caps.lease === 'per-session' ? 2 * ctx.ttlMs : ctx.ttlMs) + leaseSlackMs(ctx);
    const lease = { ttlMs: ctx.ttlMs, autoExtend: false };

    const reader = await a!.readWriteLock(name, lease).read.acquire({ waitMs: 30_000 });
    let started = performance.now();
    const writer = await b!.readWriteLock(name).write.acquire({ waitMs: bound, signal: ctx.signal });
    const afterReader = performance.now() - started;
    check(reader.signal.aborted, "the stalled reader's signal had not aborted when a writer got the lock");
    checkEqual(await reader.release(), false, 'release() of a read grant whose lease ended');
    await writer.release();

    const staleWriter = await a!.readWriteLock(name, lease).write.acquire({ waitMs: 30_000 });
    started = performance.now();
    const nextReader = await b!.readWriteLock(name).read.acquire({ waitMs: bound, signal: ctx.signal });
    const afterWriter = performance.now() - started;
    check(
      staleWriter.signal.aborted,
      "the stalled writer's signal had not aborted when a reader got the lock",
    );
    checkEqual(await staleWriter.release(), false, 'release() of a write grant whose lease ended');
    await nextReader.release();
    check(
      afterReader >= ctx.ttlMs * 0.5,
      `the writer got in ${fmt(afterReader)}, well inside the reader's lease`,
    );
    ctx.log(
      `lease ${ctx.ttlMs} ms: a stalled reader gave way after ${fmt(afterReader)}, a stalled writer after ${fmt(afterWriter)}`,
    );
  },
};

export const rwlockFencing: ConformanceTest = {
  id: 'rwlock.fencing',
  title: 'every grant, read or write, has a token larger than every earlier grant of the name',
  requires: (caps) =>
    requirePrimitive('readWrite')(caps) ??
    (caps.readWrite?.supported && caps.readWrite.fencing === 'monotonic'
      ? undefined
      : "capability readWrite.fencing: 'none' declared"),
  async run(ctx) {
    const clients = await ctx.clients(2);
    const name = ctx.name('rw-fencing');
    const tokens: Array<{ mode: string; token: bigint }> = [];
    for (const [i, mode] of (
      ['read', 'write', 'read', 'read', 'write', 'write', 'read'] as const
    ).entries()) {
      const handle = await clients[i % 2]!.readWriteLock(name)[mode].acquire({ waitMs: 30_000 });
      tokens.push({ mode, token: handle.fencingToken });
      await handle.release();
    }
    for (let i = 1; i < tokens.length; i++) {
      check(
        tokens[i]!.token > tokens[i - 1]!.token,
        `a ${tokens[i]!.mode} grant's token ${tokens[i]!.token} is not larger than the ${tokens[i - 1]!.mode} grant's ${tokens[i - 1]!.token} before it`,
      );
    }
    ctx.log(`tokens in grant order: ${tokens.map((t) => `${t.mode} ${t.token}`).join(', ')}`);
  },
};

/** Every read-write lock test, in the order of the suite's table. */
export const RWLOCK_TESTS: readonly ConformanceTest[] = [
  rwlockExclusive,
  rwlockShared,
  rwlockWriterProgress,
  rwlockExpiry,
  rwlockFencing,
];
