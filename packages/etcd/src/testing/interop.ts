/**
 * interop.etcdctl: a lock at a native location (`lock(name, { native:
 * '/locks/x' })`) and `etcdctl lock /locks/x` (etcd's own `concurrency.Mutex`, the real binary)
 * exclude each other, in both directions and under mixed contention, and lockstep's keys sit
 * where `concurrency.Mutex` puts its own (`<prefix>/<lease id in hex>`).
 *
 * Needs `etcdctl` on PATH (Debian: etcd-client); the scenarios skip with that reason otherwise.
 * Every native location is a place under the run's scratch root (`ctx.place`).
 * @module
 */
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  check,
  checkEqual,
  delay,
  type InteropContext,
  type InteropScenario,
  strictlyIncreasing,
} from '@lockstep/conformance/interop';
import { type EtcdctlProcess, etcdctl, etcdctlPath, location, scratchDir } from './etcdctl.js';
import { ETCDCTL_ELECT_INTEROP } from './interop-elect.js';
import { rawClient } from './raw.js';

/** `etcdctl lock PREFIX -- sh -c SCRIPT`. */
function etcdctlLock(ctx: InteropContext, url: string, prefix: string, script: string): EtcdctlProcess {
  return etcdctl(ctx, url, ['lock', prefix, '--', 'sh', '-c', script]);
}

/** lockstep's keys: `<prefix>/<lease id in hex>`, each on its own lease, queue order by create revision. */
async function layout(url: string, ctx: InteropContext): Promise<void> {
  etcdctlPath();
  const c = await ctx.open();
  const raw = rawClient(url);
  ctx.defer(() => raw.close());
  const prefix = location(ctx, 'layout');
  const keysUnder = async () => (await raw.getAll().prefix(`${prefix}/`).exec()).kvs;
  const a = await c.lock('a', { native: prefix }).acquire();
  const waiting = c.lock('b', { native: prefix }).acquire();
  waiting.catch(() => {});
  let kvs = await keysUnder();
  for (let i = 0; i < 100 && kvs.length < 2; i++) {
    await delay(20);
    kvs = await keysUnder();
  }
  checkEqual(kvs.length, 2, 'keys under the prefix (holder and waiter)');
  for (const kv of kvs)
    checkEqual(kv.key.toString(), `${prefix}/${BigInt(kv.lease).toString(16)}`, 'key name (lease id in hex)');
  checkEqual(new Set(kvs.map((kv) => kv.lease)).size, 2, 'distinct leases of holder and waiter');
  const holders = kvs.filter((kv) => BigInt(kv.create_revision) === a.fencingToken);
  checkEqual(holders.length, 1, "keys whose create revision is the holder's token");
  await a.release();
  const b = await waiting;
  check(b.fencingToken > a.fencingToken, `token ${b.fencingToken} not above ${a.fencingToken}`);
  await b.release();
  checkEqual((await raw.getAll().prefix(`${prefix}/`).keys()).length, 0, 'keys left after both released');
}

/** While etcdctl holds the lock, lockstep waits; it gets the lock when etcdctl lets go. */
async function etcdctlFirst(url: string, ctx: InteropContext): Promise<void> {
  const c = await ctx.open();
  const prefix = location(ctx, 'reports');
  // etcdctl gives its command no stdin: the command holds until a file appears.
  const letGo = join(scratchDir(ctx), 'let-go');
  const peer = etcdctlLock(
    ctx,
    url,
    prefix,
    `echo LOCKED $ETCD_LOCK_KEY; while [ ! -e "${letGo}" ]; do sleep 0.02; done; echo UNLOCKING`,
  );
  await peer.seen('LOCKED', 15_000);
  const lock = c.lock('reports', { native: prefix });
  check((await lock.tryAcquire()) === null, 'lockstep got the lock etcdctl holds');
  const waiting = lock.acquire({ waitMs: 20_000 });
  waiting.catch(() => {});
  let granted = false;
  void waiting.then(() => {
    granted = true;
  });
  await delay(500);
  checkEqual(granted, false, 'lockstep granted while etcdctl holds the lock');
  closeSync(openSync(letGo, 'w'));
  const unlockingAt = await peer.seen('UNLOCKING', 5_000);
  const held = await waiting;
  const grantedAfterMs = performance.now() - unlockingAt;
  checkEqual(await peer.exited, 0, `etcdctl's exit code (${peer.stderr()})`);
  check(
    grantedAfterMs < 2_000,
    `lockstep granted ${Math.round(grantedAfterMs)} ms after etcdctl let go (limit 2000)`,
  );
  await held.release();
}

/** While lockstep holds the lock, etcdctl waits; it gets the lock when lockstep releases. */
async function lockstepFirst(url: string, ctx: InteropContext): Promise<void> {
  const c = await ctx.open();
  const prefix = location(ctx, 'jobs');
  const held = await c.lock('jobs', { native: prefix }).acquire();
  const peer = etcdctlLock(ctx, url, prefix, 'echo LOCKED');
  await delay(1_000);
  checkEqual(
    peer.lines.some((l) => l.line.includes('LOCKED')),
    false,
    'etcdctl locked while lockstep holds',
  );
  const releasedAt = performance.now();
  checkEqual(await held.release(), true, "lockstep's release");
  const lockedAt = await peer.seen('LOCKED', 10_000);
  check(lockedAt > releasedAt, 'etcdctl locked before lockstep released');
  checkEqual(await peer.exited, 0, `etcdctl's exit code (${peer.stderr()})`);
}

/** Two etcdctl loops and two lockstep clients: nobody ever inside together, tokens increasing. */
async function mixedContention(url: string, ctx: InteropContext): Promise<void> {
  etcdctlPath();
  const flag = join(scratchDir(ctx), 'inside');
  const prefix = location(ctx, 'mixed');
  const rounds = 6;
  // Each critical section creates the flag file exclusively (noclobber), holds, removes it: a
  // second holder inside at the same time finds the file and reports an overlap.
  const script = `set -C; if ! : > "${flag}" 2>/dev/null; then echo OVERLAP; fi; sleep 0.05; rm -f "${flag}"; echo DONE`;
  const etcdctlLoop = async () => {
    let overlaps = 0;
    for (let i = 0; i < rounds; i++) {
      const peer = etcdctlLock(ctx, url, prefix, script);
      checkEqual(await peer.exited, 0, `etcdctl's exit code (${peer.stderr()})`);
      overlaps += peer.lines.filter((l) => l.line.includes('OVERLAP')).length;
    }
    return overlaps;
  };
  const lockstepLoop = async () => {
    const c = await ctx.open();
    const lock = c.lock('mixed', { native: prefix });
    const tokens: Array<{ at: number; token: bigint }> = [];
    let overlaps = 0;
    for (let i = 0; i < rounds * 2; i++) {
      const held = await lock.acquire({ waitMs: 30_000 });
      tokens.push({ at: performance.now(), token: held.fencingToken });
      try {
        closeSync(openSync(flag, 'wx'));
      } catch {
        overlaps++;
      }
      await delay(20);
      try {
        unlinkSync(flag);
      } catch {
        // Someone else's overlap removed it.
      }
      await held.release();
    }
    return { overlaps, tokens };
  };
  const [e1, e2, l1, l2] = await Promise.all([etcdctlLoop(), etcdctlLoop(), lockstepLoop(), lockstepLoop()]);
  checkEqual(e1 + e2 + l1.overlaps + l2.overlaps, 0, 'overlapping holders');
  // In grant order (both lockstep clients together), tokens strictly increase.
  const grants = [...l1.tokens, ...l2.tokens].sort((a, b) => a.at - b.at);
  check(
    strictlyIncreasing(grants.map((g) => g.token)),
    `lockstep's tokens not strictly increasing in grant order: ${grants.map((g) => g.token).join(', ')}`,
  );
}

/** Every etcd interop scenario: `interop.etcdctl` (locks) and `interop.etcdctl.elect`. */
export const ETCD_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.etcdctl',
    title: 'puts its key where concurrency.Mutex does: <prefix>/<lease id in hex>, on its own lease',
    run: (target, ctx) => layout(target.url, ctx),
  },
  {
    id: 'interop.etcdctl',
    title: 'while etcdctl holds the lock, lockstep waits; it gets the lock when etcdctl lets go',
    run: (target, ctx) => etcdctlFirst(target.url, ctx),
  },
  {
    id: 'interop.etcdctl',
    title: 'while lockstep holds the lock, etcdctl waits; it gets the lock when lockstep releases',
    run: (target, ctx) => lockstepFirst(target.url, ctx),
  },
  {
    id: 'interop.etcdctl',
    title: 'under mixed contention nobody is ever inside together, and lockstep tokens keep increasing',
    timeoutMs: 120_000,
    run: (target, ctx) => mixedContention(target.url, ctx),
  },
  ...ETCDCTL_ELECT_INTEROP,
];
