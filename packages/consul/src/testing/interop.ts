/**
 * interop.consul-lock: `lock(name, { native: PREFIX })` takes the lock where
 * `consul lock PREFIX …` (hashicorp/consul api/lock.go) takes it — `PREFIX/.lock`, acquired with a
 * session, flags 0x2ddccbc058a50c18 — so each excludes the other, both ways. The Go side is a
 * TypeScript transcription of api/lock.go's algorithm ({@link ApiLock}: no Go toolchain or Consul
 * binary can be installed here), and on this machine the server is the emulator: reports label
 * those results `emulator`, never Consul results. Every prefix is a place under the run's
 * scratch root (`ctx.place`).
 * @module
 */
import type { ConformanceTarget } from '@lockstep/conformance';
import {
  CriticalSection,
  check,
  checkEqual,
  delay,
  expectRejection,
  type InteropContext,
  type InteropScenario,
  within,
} from '@lockstep/conformance/interop';
import { InvalidArgumentError } from '@lockstep/core';
import { ApiLock, getPair, LOCK_FLAG_VALUE, SEMAPHORE_FLAG_VALUE } from './api-lock.js';
import { contendBothSides, minTtlOf } from './contention.js';
import { CONSUL_SEMAPHORE_INTEROP } from './interop-semaphore.js';
import { agentOf } from './raw.js';

/** What every scenario needs: the agent, the minimum TTL, and api/lock.go locks on it. */
function setting(target: ConformanceTarget) {
  const httpUrl = agentOf(target.url);
  const minTtlMs = minTtlOf(target.url);
  return {
    httpUrl,
    minTtlMs,
    entry: async (key: string) => (await getPair(httpUrl, key, '')).pair,
    apiLock: (prefix: string, lockDelay?: string) =>
      new ApiLock({ httpUrl, prefix, sessionTtl: `${minTtlMs / 1000}s`, retryMs: 200, lockDelay }),
  };
}

/** An api/lock.go lock whose session is destroyed when the scenario ends, whatever happened. */
function tracked(ctx: InteropContext, lock: ApiLock): ApiLock {
  ctx.defer(() => lock.unlock().catch(() => {}));
  return lock;
}

async function bothWays(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const { entry, apiLock, minTtlMs } = setting(target);
  const prefix = ctx.place('nightly');
  const coord = await ctx.open();
  const lock = coord.lock('nightly report', { native: `/${prefix}/`, ttlMs: minTtlMs });

  const ours = await lock.acquire();
  const held = await entry(`${prefix}/.lock`);
  checkEqual(held?.Flags, LOCK_FLAG_VALUE, 'flags of the key lockstep holds');
  check(held?.Session !== undefined, 'the key lockstep holds has no session');
  checkEqual(held?.ModifyIndex, ours.fencingToken, "the key's ModifyIndex (lockstep's token)");

  // `consul lock` blocks while we hold it, and gets it after our release.
  const theirs = tracked(ctx, apiLock(prefix));
  let theirsHeld = false;
  const theirsLocking = theirs.lock().then(() => {
    theirsHeld = true;
  });
  theirsLocking.catch(() => {});
  await delay(300);
  checkEqual(theirsHeld, false, 'api/lock.go granted while lockstep holds the key');
  checkEqual(await ours.release(), true, "lockstep's release");
  await theirsLocking;
  checkEqual(theirsHeld, true, 'api/lock.go granted after the release');

  // While `consul lock` holds it, we cannot; our waiter gets it after its Unlock + Destroy.
  check((await lock.tryAcquire()) === null, 'lockstep got the key api/lock.go holds');
  const waiting = lock.acquire({ waitMs: 10_000 });
  waiting.catch(() => {});
  await delay(100);
  const unlocked = performance.now();
  await theirs.unlock();
  const next = await waiting;
  const lag = performance.now() - unlocked;
  check(lag < 1_000, `lockstep's waiter took ${Math.round(lag)} ms after api/lock.go's Unlock (limit 1000)`);
  // The key was deleted and recreated in between.
  check(next.fencingToken > ours.fencingToken, `token ${next.fencingToken} not above ${ours.fencingToken}`);
  checkEqual(await next.release(), true, "lockstep's second release");
  // Released with `unlock` like api/lock.go: the key stays, free, with the lock flag.
  const after = await entry(`${prefix}/.lock`);
  checkEqual(after?.Session, undefined, 'session of the released key');
  checkEqual(after?.Flags, LOCK_FLAG_VALUE, 'flags of the released key');
}

async function contention(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const { apiLock, minTtlMs } = setting(target);
  const prefix = ctx.place('nightly');
  const locks = [await ctx.open(), await ctx.open()].map((c) =>
    c.lock('shared', { native: prefix, ttlMs: minTtlMs }),
  );
  const peer = async () => {
    const lock = tracked(ctx, apiLock(prefix));
    await lock.lock();
    return () => lock.unlock();
  };
  const lockstep = locks.map((lock) => () => lock.acquire({ waitMs: 20_000 }));
  await contendBothSides(new CriticalSection(), { lockstep, peer, peerName: 'api/lock.go' }, 3, 4_000);
}

async function lossAndLateUnlock(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const { entry, apiLock, minTtlMs, httpUrl } = setting(target);
  const prefix = ctx.place('nightly');
  const theirs = tracked(ctx, apiLock(prefix, '1s'));
  await theirs.lock();
  const session = (await entry(`${prefix}/.lock`))?.Session as string;
  // Invalidated (Behavior release: the key stays, free; lock-delay 1 s).
  await fetch(`${httpUrl}/v1/session/destroy/${session}`, { method: 'PUT' }).then((r) => r.arrayBuffer());
  const coord = await ctx.open();
  const invalidated = performance.now();
  const ours = await coord.lock('takeover', { native: prefix, ttlMs: minTtlMs }).acquire({ waitMs: 20_000 });
  const waited = performance.now() - invalidated;
  check(waited > 800, `lockstep got the key after ${Math.round(waited)} ms, inside the 1 s lock-delay`);
  const lost = theirs.lost.signal;
  await within(
    lost.aborted ? Promise.resolve() : new Promise((resolve) => lost.addEventListener('abort', resolve)),
    3_000,
    "api/lock.go's monitor reporting the loss",
  );
  await theirs.unlock(); // its release after loss must not free our lock
  checkEqual(await ours.isHeld(), true, 'lockstep still holds after the late Unlock');
  check((await entry(`${prefix}/.lock`))?.Session !== undefined, 'the key lost its session');
  await ours.release();
}

async function semaphoreConflict(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const { entry, minTtlMs, httpUrl } = setting(target);
  const prefix = ctx.place('nightly');
  const put = await fetch(`${httpUrl}/v1/kv/${prefix}/.lock?flags=${SEMAPHORE_FLAG_VALUE}`, {
    method: 'PUT',
    body: '{"Limit":2,"Holders":{}}',
  });
  checkEqual(await put.json(), true, 'writing the semaphore key');
  const coord = await ctx.open();
  const lock = coord.lock('sem', { native: prefix, ttlMs: minTtlMs });
  await expectRejection(lock.tryAcquire(), InvalidArgumentError, 'tryAcquire on a semaphore prefix');
  await expectRejection(
    lock.acquire({ waitMs: 1_000 }),
    (error) => error instanceof Error && /semaphore/.test(error.message),
    'acquire on a semaphore prefix (message naming the semaphore)',
  );
  const after = await entry(`${prefix}/.lock`);
  checkEqual(after?.Flags, SEMAPHORE_FLAG_VALUE, "the semaphore key's flags");
  checkEqual(after?.Session, undefined, "the semaphore key's session");
}

/** Every Consul interop scenario: `interop.consul-lock` (locks) and `interop.consul-lock.semaphore`. */
export const CONSUL_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.consul-lock',
    title: 'takes <prefix>/.lock with the lock flag, and both sides exclude each other both ways',
    run: bothWays,
  },
  {
    id: 'interop.consul-lock',
    title: 'lockstep clients and api/lock.go clients contending are never both inside',
    run: contention,
  },
  {
    id: 'interop.consul-lock',
    title:
      "api/lock.go's monitor reports its session's loss, and its late Unlock does not free lockstep's lock",
    run: lossAndLateUnlock,
  },
  {
    id: 'interop.consul-lock',
    title: 'refuses a prefix used by a Consul semaphore (ErrLockConflict) without touching it',
    run: semaphoreConflict,
  },
  ...CONSUL_SEMAPHORE_INTEROP,
];
