/**
 * `interop.curator.semaphore`: `semaphore(name, { permits, native: PATH })` counts the same
 * permits as Apache Curator's `InterProcessSemaphoreV2(client, PATH, maxLeases)`: both take
 * Curator's turnstile (`PATH/locks`) and keep their leases in `PATH/leases`, so a Java service
 * and lockstep clients never hold more permits together than the count they share, wait for
 * each other in turn, and every permit's token (its lease's czxid) is distinct and larger than
 * those granted before it. With different counts, lockstep keeps to the smallest count a lease
 * declares (a Curator lease declares one only through `setNodeData`); Curator keeps to its own.
 * @module
 */
import { closeSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  check,
  checkEqual,
  delay,
  type InteropContext,
  type InteropScenario,
} from '@lockstep/conformance/interop';
import type { Coordinator, LockHandle } from '@lockstep/core';
import { curatorService, curatorToken, scratchDir } from './curator.js';
import { childrenUntil } from './raw.js';

const PERMITS = 2;
const LEASE = /^_c_[0-9a-f-]{36}-lease-(?:of-\d+-)?\d{10}$/;

function semaphoreOf(node: Coordinator, path: string, permits = PERMITS) {
  return node.semaphore('exports', { permits, native: path });
}

/** Curator holds every permit: lockstep is refused, waits its turn, and gets the next one with a larger token. */
async function curatorFirst(url: string, ctx: InteropContext): Promise<void> {
  const path = `/${ctx.place('curator-semaphore')}`;
  const java = await curatorService(url, ctx, ['semaphore', path, String(PERMITS)]);
  const curatorTokens = [curatorToken(await java.ask('try')), curatorToken(await java.ask('try'))];
  const node = await ctx.open();
  check(
    (await semaphoreOf(node, path).tryAcquire()) === null,
    'lockstep got a third permit of 2 held by Curator',
  );
  const waiting = semaphoreOf(node, path).acquire({ waitMs: 30_000 });
  waiting.catch(() => {});
  // lockstep waits as Curator would: holding the turnstile, with its lease counted.
  const leases = await childrenUntil(url, `${path}/leases`, PERMITS + 1);
  checkEqual(leases.length, PERMITS + 1, 'leases while lockstep waits (two of Curator, one of lockstep)');
  for (const lease of leases)
    check(LEASE.test(lease), `lease "${lease}" is not named as Curator names leases`);
  const turnstile = await childrenUntil(url, `${path}/locks`, 1);
  checkEqual(turnstile.length, 1, "nodes in Curator's turnstile while lockstep waits");
  check(/^_c_[0-9a-f-]{36}-lock-\d{10}$/.test(turnstile[0]!), `turnstile node "${turnstile[0]}"`);
  checkEqual(await java.ask('release'), 'released', "Curator's release of one permit");
  const mine = await waiting;
  for (const token of curatorTokens) {
    check(mine.fencingToken > token, `lockstep token ${mine.fencingToken} not above Curator's ${token}`);
  }
  // One permit each now: Curator is refused a third.
  checkEqual(await java.ask('try'), 'busy', "Curator's try while it and lockstep hold both permits");
  await mine.release();
  check(
    curatorToken(await java.ask('try')) > mine.fencingToken,
    "Curator's next czxid above lockstep's token",
  );
  checkEqual(await java.ask('release'), 'released', "Curator's release");
  checkEqual(await java.ask('release'), 'released', "Curator's release");
}

/** lockstep holds every permit: Curator is refused, waits its turn, and gets the next one with a larger czxid. */
async function lockstepFirst(url: string, ctx: InteropContext): Promise<void> {
  const path = `/${ctx.place('curator-semaphore')}`;
  const [a, b] = [await ctx.open(), await ctx.open()];
  const held = [await semaphoreOf(a, path).acquire(), await semaphoreOf(b, path).acquire()];
  const java = await curatorService(url, ctx, ['semaphore', path, String(PERMITS)]);
  checkEqual(await java.ask('try'), 'busy', "Curator's try while lockstep holds both permits");
  java.send('acquire');
  const answer = java.next(30_000);
  answer.catch(() => {});
  await delay(300);
  checkEqual(await held[0]!.isHeld(), true, 'lockstep still holds while Curator waits');
  await held[0]!.release();
  const token = curatorToken(await answer);
  for (const permit of held) {
    check(
      token > permit.fencingToken,
      `Curator's czxid ${token} not above lockstep's ${permit.fencingToken}`,
    );
  }
  check(
    (await semaphoreOf(a, path).tryAcquire()) === null,
    'lockstep got a third permit (Curator and lockstep hold 2)',
  );
  checkEqual(await java.ask('release'), 'released', "Curator's release");
  await held[1]!.release();
}

/** A holder's presence in a directory both sides count: more files than permits is a violation. */
class Holders {
  readonly dir: string;
  readonly violations: string[] = [];
  /** Entries of lockstep that found a Curator holder inside. */
  besideCurator = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  enter(permit: LockHandle): () => void {
    const file = join(this.dir, `node-${permit.fencingToken}`);
    closeSync(openSync(file, 'wx'));
    const inside = readdirSync(this.dir);
    if (inside.length > PERMITS) this.violations.push(`${inside.length} holders: ${inside.join(', ')}`);
    if (inside.some((name) => name.startsWith('curator-'))) this.besideCurator++;
    return () => unlinkSync(file);
  }
}

/** Curator and two lockstep clients on 2 permits: never more than 2 holders, every token distinct. */
async function contention(url: string, ctx: InteropContext): Promise<void> {
  const path = `/${ctx.place('curator-semaphore')}`;
  const holders = new Holders(scratchDir(ctx));
  const java = await curatorService(url, ctx, ['semaphore', path, String(PERMITS)]);
  const clients = [await ctx.open(), await ctx.open()];
  const ROUNDS = 20;
  const ours: bigint[] = [];
  java.send(`loop ${ROUNDS} 4 ${holders.dir}`);
  const javaDone = java.next(120_000);
  javaDone.catch(() => {});
  await Promise.all(
    clients.map(async (client) => {
      const semaphore = semaphoreOf(client, path);
      for (let i = 0; i < ROUNDS; i++) {
        const permit = await semaphore.acquire({ waitMs: 60_000 });
        ours.push(permit.fencingToken);
        const leave = holders.enter(permit);
        await delay(4);
        leave();
        await permit.release();
      }
    }),
  );
  const [, curatorViolations, curatorTokens = ''] = (await javaDone).split(' ');
  checkEqual(curatorViolations, '0', 'violations Curator saw');
  check(holders.violations.length === 0, `violations lockstep saw: ${holders.violations.join('; ')}`);
  check(!/violation/.test(java.stderr), `Curator reported: ${java.stderr}`);
  const all = [...ours, ...curatorTokens.split(',').map(BigInt)];
  checkEqual(new Set(all).size, all.length, 'distinct tokens among the permits of both sides');
  check(holders.besideCurator > 0, 'lockstep never held a permit while Curator held the other');
}

/**
 * Different counts: lockstep keeps to a count a Curator lease publishes (its data), and cannot
 * see one that does not; Curator keeps to its own `maxLeases` either way.
 */
async function mismatch(url: string, ctx: InteropContext): Promise<void> {
  const node = await ctx.open();
  // A Curator client of 1 permit that writes its count as its lease's data.
  const published = `/${ctx.place('curator-semaphore')}`;
  const strict = await curatorService(url, ctx, ['semaphore', published, '1', '1']);
  curatorToken(await strict.ask('try'));
  check(
    (await semaphoreOf(node, published, 3).tryAcquire()) === null,
    'lockstep (3 permits) got a permit beside a Curator lease declaring 1',
  );
  checkEqual(await strict.ask('release'), 'released', "Curator's release");
  const after = await semaphoreOf(node, published, 3).tryAcquire();
  check(after !== null, 'lockstep got no permit once the Curator lease declaring 1 was gone');
  await after.release();

  // A Curator client of 3 permits, its lease data its address (Curator's default): lockstep
  // declaring 1 holds, and Curator still takes a second permit — it counts against its own 3.
  const silent = `/${ctx.place('curator-semaphore')}`;
  const mine = await semaphoreOf(node, silent, 1).acquire();
  const wide = await curatorService(url, ctx, ['semaphore', silent, '3']);
  check(
    curatorToken(await wide.ask('try')) > mine.fencingToken,
    'Curator (maxLeases 3) was granted a permit beside lockstep declaring 1, with a larger czxid',
  );
  check(
    (await semaphoreOf(node, silent, 1).tryAcquire()) === null,
    'lockstep (1 permit) got a second permit while two leases were held',
  );
  checkEqual(await wide.ask('release'), 'released', "Curator's release");
  await mine.release();
}

/** The `InterProcessSemaphoreV2` scenarios. */
export const SEMAPHORE_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.curator.semaphore',
    title:
      'Curator holds every permit: lockstep is refused, waits its turn, and gets the next one with a larger token',
    timeoutMs: 180_000,
    run: (target, ctx) => curatorFirst(target.url, ctx),
  },
  {
    id: 'interop.curator.semaphore',
    title:
      'lockstep holds every permit: Curator is refused, waits its turn, and gets the next one with a larger czxid',
    timeoutMs: 180_000,
    run: (target, ctx) => lockstepFirst(target.url, ctx),
  },
  {
    id: 'interop.curator.semaphore',
    title:
      'contention: Curator and two lockstep clients on 2 permits never hold more than 2, every token distinct',
    timeoutMs: 180_000,
    run: (target, ctx) => contention(target.url, ctx),
  },
  {
    id: 'interop.curator.semaphore',
    title:
      'different counts: lockstep keeps to a count a Curator lease publishes; Curator keeps to its own maxLeases',
    timeoutMs: 180_000,
    run: (target, ctx) => mismatch(target.url, ctx),
  },
];
