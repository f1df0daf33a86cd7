/**
 * Interop on ZooKeeper — `interop.curator`: `lock(name, { native: PATH })` queues exactly
 * where Apache Curator's `InterProcessMutex(client, PATH)` does (children `_c_<uuid>-lock-<seq>`,
 * ordered by the sequence, each waiter watching its predecessor), so a Java service using the
 * real Curator (Debian's libcurator-recipes-java 5.4) and lockstep clients exclude each other
 * both ways, and the fencing tokens (czxid) increase across both. The other recipes' scenarios
 * live beside this file, one per recipe.
 *
 * Needs `java`/`javac` and the Curator jars in /usr/share/java; the scenarios skip with that
 * reason otherwise.
 * @module
 */
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  check,
  checkEqual,
  delay,
  type InteropContext,
  type InteropScenario,
} from '@lockstep/conformance/interop';
import type { Coordinator } from '@lockstep/core';
import { curatorService, scratchDir, curatorToken as tokenOf } from './curator.js';
import { LEADER_LATCH_INTEROP } from './interop-latch.js';
import { READ_WRITE_INTEROP } from './interop-rwlock.js';
import { SEMAPHORE_INTEROP } from './interop-semaphore.js';
import { childrenUntil } from './raw.js';

/** What a scenario needs: a Curator service on `path`, sharing marker/token files with Node. */
function setUp(url: string, ctx: InteropContext) {
  const dir = scratchDir(ctx);
  const path = `/${ctx.place('curator')}`;
  const shared = { marker: join(dir, 'inside'), tokens: join(dir, 'tokens') };
  const curator = () => curatorService(url, ctx, ['mutex', path, shared.marker, shared.tokens]);
  return { path, shared, curator };
}

/** Curator holds: lockstep cannot get in, queues behind it with the same naming, gets a larger token. */
async function curatorFirst(url: string, ctx: InteropContext): Promise<void> {
  const { path, curator } = setUp(url, ctx);
  const java = await curator();
  const curatorToken = tokenOf(await java.ask('acquire'));
  const node = await ctx.open();
  const lock = node.lock('reports', { native: path });
  check((await lock.tryAcquire()) === null, 'lockstep got the lock Curator holds');
  const waiting = lock.acquire({ waitMs: 30_000 });
  waiting.catch(() => {});
  const children = await childrenUntil(url, path, 2);
  // Both contenders' nodes look alike: Curator's protected names, ordered by sequence.
  checkEqual(children.length, 2, 'children of the lock path (Curator and lockstep)');
  for (const child of children)
    check(/^_c_[0-9a-f-]{36}-lock-\d{10}$/.test(child), `child "${child}" is not named as Curator names it`);
  checkEqual(await java.ask('release'), 'released', "Curator's release");
  const mine = await waiting;
  check(
    mine.fencingToken > curatorToken,
    `lockstep token ${mine.fencingToken} not above Curator's ${curatorToken}`,
  );
  // Now Curator is the one kept out.
  checkEqual(await java.ask('try'), 'busy', "Curator's try while lockstep holds");
  await mine.release();
  tokenOf(await java.ask('try'));
  checkEqual(await java.ask('release'), 'released', "Curator's release");
}

/** lockstep holds: Curator cannot get in, waits its turn, and gets a larger czxid. */
async function lockstepFirst(url: string, ctx: InteropContext): Promise<void> {
  const { path, curator } = setUp(url, ctx);
  const node = await ctx.open();
  const mine = await node.lock('reports', { native: path }).acquire();
  const java = await curator();
  checkEqual(await java.ask('try'), 'busy', "Curator's try while lockstep holds");
  java.send('acquire');
  const answer = java.next(30_000);
  answer.catch(() => {});
  await delay(300);
  checkEqual(await mine.isHeld(), true, 'lockstep still holds while Curator waits');
  await mine.release();
  const curatorToken = tokenOf(await answer);
  check(
    curatorToken > mine.fencingToken,
    `Curator's czxid ${curatorToken} not above lockstep's ${mine.fencingToken}`,
  );
  check(
    (await node.lock('reports', { native: path }).tryAcquire()) === null,
    'lockstep got the lock Curator holds',
  );
  checkEqual(await java.ask('release'), 'released', "Curator's release");
}

/** Curator and two lockstep clients are never inside together, and tokens only increase. */
async function contention(url: string, ctx: InteropContext): Promise<void> {
  const { path, shared, curator } = setUp(url, ctx);
  const java = await curator();
  const clients: Coordinator[] = [await ctx.open(), await ctx.open()];
  const ROUNDS = 25;
  const violations: string[] = [];
  const ours = new Set<bigint>();
  let fromCurator = 0;
  const enter = (token: bigint) => {
    try {
      closeSync(openSync(shared.marker, 'wx'));
    } catch {
      violations.push(`lockstep entered (token ${token}) while the marker existed`);
    }
    if (existsSync(shared.tokens)) {
      const last = BigInt(readFileSync(shared.tokens, 'utf8').trim());
      if (token <= last) violations.push(`lockstep token ${token} after ${last}`);
      if (!ours.has(last)) fromCurator++;
    }
    ours.add(token);
    writeFileSync(shared.tokens, token.toString());
  };
  const loop = async (client: Coordinator) => {
    const lock = client.lock('reports', { native: path });
    for (let i = 0; i < ROUNDS; i++) {
      const held = await lock.acquire({ waitMs: 60_000 });
      enter(held.fencingToken);
      await delay(3);
      unlinkSync(shared.marker);
      await held.release();
    }
  };
  java.send(`loop ${ROUNDS} 3`);
  const javaDone = java.next(120_000);
  javaDone.catch(() => {});
  await Promise.all(clients.map(loop));
  const [, curatorViolations, fromLockstep] = (await javaDone).split(' ');
  checkEqual(curatorViolations, '0', 'violations Curator saw');
  check(violations.length === 0, `violations lockstep saw: ${violations.join('; ')}`);
  // The lock really changed hands between the two implementations, both ways.
  check(fromCurator > 0, 'the lock never passed from Curator to lockstep');
  check(Number(fromLockstep) > 0, 'the lock never passed from lockstep to Curator');
  check(!/violation/.test(java.stderr), `Curator reported: ${java.stderr}`);
}

/** The `InterProcessMutex` scenarios, `interop.curator`. */
const MUTEX_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.curator',
    title:
      'Curator holds: lockstep cannot get in, queues behind it with the same naming, and gets a larger token',
    timeoutMs: 180_000,
    run: (target, ctx) => curatorFirst(target.url, ctx),
  },
  {
    id: 'interop.curator',
    title: 'lockstep holds: Curator cannot get in, waits its turn, and gets a larger czxid',
    timeoutMs: 180_000,
    run: (target, ctx) => lockstepFirst(target.url, ctx),
  },
  {
    id: 'interop.curator',
    title: 'contention: Curator and two lockstep clients are never inside together, and tokens only increase',
    timeoutMs: 180_000,
    run: (target, ctx) => contention(target.url, ctx),
  },
];

/**
 * Every ZooKeeper interop scenario: `interop.curator` (InterProcessMutex),
 * `interop.curator.semaphore` (InterProcessSemaphoreV2), `interop.curator.rwlock`
 * (InterProcessReadWriteLock), `interop.curator.leader-latch` (LeaderLatch).
 */
export const ZOOKEEPER_INTEROP: readonly InteropScenario[] = [
  ...MUTEX_INTEROP,
  ...SEMAPHORE_INTEROP,
  ...READ_WRITE_INTEROP,
  ...LEADER_LATCH_INTEROP,
];
