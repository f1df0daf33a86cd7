/**
 * `interop.curator.rwlock`: `readWriteLock(name, { native: PATH })` queues exactly where Apache
 * Curator's `InterProcessReadWriteLock(client, PATH)` does — one queue of `_c_<uuid>-__READ__<seq>`
 * and `_c_<uuid>-__WRIT__<seq>` children ordered by their sequence, a writer holding when first,
 * a reader when no writer is ahead of it — so a Java service and lockstep clients share reads,
 * exclude each other's writes, a writer of either side holds back the other side's later
 * readers, and every grant's token (its node's czxid) is above those granted before it.
 * @module
 */
import { closeSync, existsSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  check,
  checkEqual,
  delay,
  type InteropContext,
  type InteropScenario,
} from '@lockstep/conformance/interop';
import type { Coordinator } from '@lockstep/core';
import { curatorService, curatorToken, scratchDir } from './curator.js';
import { childrenUntil } from './raw.js';

const NODE = /^_c_[0-9a-f-]{36}-__(READ|WRIT)__\d{10}$/;

function rwOf(node: Coordinator, path: string) {
  return node.readWriteLock('catalog', { native: path });
}

/** Curator writes: lockstep's reads and writes wait behind it; then readers of both sides share. */
async function curatorWrites(url: string, ctx: InteropContext): Promise<void> {
  const path = `/${ctx.place('curator-rwlock')}`;
  const java = await curatorService(url, ctx, ['rwlock', path]);
  const written = curatorToken(await java.ask('write'));
  const node = await ctx.open();
  check((await rwOf(node, path).read.tryAcquire()) === null, 'lockstep read while Curator wrote');
  check((await rwOf(node, path).write.tryAcquire()) === null, 'lockstep wrote while Curator wrote');
  const reading = rwOf(node, path).read.acquire({ waitMs: 30_000 });
  reading.catch(() => {});
  const children = await childrenUntil(url, path, 2);
  checkEqual(children.length, 2, "children of the lock path (Curator's writer, lockstep's reader)");
  for (const name of children) check(NODE.test(name), `child "${name}" is not named as Curator names it`);
  check(
    children.some((name) => name.includes('__WRIT__')) && children.some((name) => name.includes('__READ__')),
    `one writer and one reader expected, got ${children.join(', ')}`,
  );
  checkEqual(await java.ask('release-write'), 'released', "Curator's release of its write");
  const read = await reading;
  check(
    read.fencingToken > written,
    `lockstep read token ${read.fencingToken} not above Curator's write ${written}`,
  );
  // Readers of both sides share; a writer of either side is kept out.
  check(
    curatorToken(await java.ask('try-read')) > written,
    'Curator read beside lockstep with a larger czxid',
  );
  checkEqual(await java.ask('try-write'), 'busy', "Curator's write while both sides read");
  check((await rwOf(node, path).write.tryAcquire()) === null, 'lockstep wrote while both sides read');
  checkEqual(await java.ask('release-read'), 'released', "Curator's release of its read");
  await read.release();
}

/** A Curator writer queued behind lockstep's reader holds back lockstep's later readers. */
async function writerAcrossSides(url: string, ctx: InteropContext): Promise<void> {
  const path = `/${ctx.place('curator-rwlock')}`;
  const node = await ctx.open();
  const first = await rwOf(node, path).read.acquire();
  const java = await curatorService(url, ctx, ['rwlock', path]);
  java.send('write');
  const writing = java.next(30_000);
  writing.catch(() => {});
  checkEqual((await childrenUntil(url, path, 2)).length, 2, "nodes once Curator's writer is queued");
  check(
    (await rwOf(node, path).read.tryAcquire()) === null,
    "a lockstep reader went ahead of Curator's waiting writer",
  );
  const later = rwOf(node, path).read.acquire({ waitMs: 30_000 });
  later.catch(() => {});
  await delay(200);
  await first.release();
  const written = curatorToken(await writing);
  check(
    written > first.fencingToken,
    `Curator's write czxid ${written} not above lockstep's read ${first.fencingToken}`,
  );
  checkEqual(await java.ask('release-write'), 'released', "Curator's release of its write");
  const read = await later;
  check(
    read.fencingToken > written,
    `lockstep's later read ${read.fencingToken} not above Curator's write ${written}`,
  );
  await read.release();
}

/** Curator and two lockstep clients reading and writing: a writer is never inside with anyone. */
async function contention(url: string, ctx: InteropContext): Promise<void> {
  const path = `/${ctx.place('curator-rwlock')}`;
  const dir = scratchDir(ctx);
  const java = await curatorService(url, ctx, ['rwlock', path]);
  const clients = [await ctx.open(), await ctx.open()];
  const ROUNDS = 24;
  const violations: string[] = [];
  let readsBesideCurator = 0;
  java.send(`loop ${ROUNDS} 3 ${dir}`);
  const javaDone = java.next(120_000);
  javaDone.catch(() => {});
  await Promise.all(
    clients.map(async (client, index) => {
      const rw = rwOf(client, path);
      for (let i = 0; i < ROUNDS; i++) {
        const writing = (i + index) % 3 === 0;
        const held = await rw[writing ? 'write' : 'read'].acquire({ waitMs: 60_000 });
        const file = join(dir, writing ? 'W' : `R-node-${held.fencingToken}`);
        try {
          closeSync(openSync(file, 'wx'));
        } catch {
          violations.push('a lockstep writer entered while another wrote');
        }
        const inside = readdirSync(dir);
        if (writing && inside.some((name) => name.startsWith('R-')))
          violations.push('a lockstep writer entered while someone read');
        if (!writing && existsSync(join(dir, 'W')))
          violations.push('a lockstep reader entered while someone wrote');
        if (!writing && inside.some((name) => name.startsWith('R-java-'))) readsBesideCurator++;
        await delay(3);
        unlinkSync(file);
        await held.release();
      }
    }),
  );
  const [, curatorViolations, writes, reads] = (await javaDone).split(' ');
  checkEqual(curatorViolations, '0', 'violations Curator saw');
  check(violations.length === 0, `violations lockstep saw: ${violations.join('; ')}`);
  check(!/violation/.test(java.stderr), `Curator reported: ${java.stderr}`);
  check(Number(writes) > 0 && Number(reads) > 0, `Curator wrote ${writes} and read ${reads} times`);
  check(readsBesideCurator > 0, 'a lockstep reader never read beside a Curator reader');
}

/** The `InterProcessReadWriteLock` scenarios. */
export const READ_WRITE_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.curator.rwlock',
    title: "Curator writes: lockstep's reads and writes wait behind it; then readers of both sides share",
    timeoutMs: 180_000,
    run: (target, ctx) => curatorWrites(target.url, ctx),
  },
  {
    id: 'interop.curator.rwlock',
    title: "a Curator writer queued behind lockstep's reader holds back lockstep's later readers",
    timeoutMs: 180_000,
    run: (target, ctx) => writerAcrossSides(target.url, ctx),
  },
  {
    id: 'interop.curator.rwlock',
    title:
      'contention: Curator and two lockstep clients reading and writing, a writer never inside with anyone',
    timeoutMs: 180_000,
    run: (target, ctx) => contention(target.url, ctx),
  },
];
