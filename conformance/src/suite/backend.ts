/**
 * The backend as a whole: an unreachable address fails in time (never hangs), a pending wait
 * keeps its process alive until it settles, and close() gives everything back — locks,
 * waits, timers, sockets — so the process can exit.
 * @module
 */
import { createServer } from 'node:net';
import {
  BackendUnavailableError,
  type Capabilities,
  type Coordinator,
  InvalidArgumentError,
} from '@lockstep/core';
import type { WaitScenario } from '../child/protocol.js';
import { spawnChild } from '../child/spawn.js';
import {
  type ConformanceTarget,
  hostList,
  isInProcess,
  isProxyable,
  schemeOf,
  withHostList,
  withQueryParam,
} from '../target.js';
import { check, checkEqual, describeError, settle, within } from './assert.js';
import { proxyTarget } from './support.js';
import { fmt, lossBoundMs } from './timing.js';
import type { ConformanceTest, TestContext } from './types.js';

/** The connect timeout the test asks for, and how late past it a failure may come. */
const CONNECT_TIMEOUT_MS = 1_500;
const UNAVAILABLE_SLACK_MS = 3_000;

/** A loopback port nothing listens on (it was free a moment ago). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

function requireAddress(_caps: Capabilities, target: ConformanceTarget): string | undefined {
  if (target.deadUrl !== undefined) return undefined;
  if (isInProcess(target))
    return `${schemeOf(target.url)}:// has no network address that could be unreachable`;
  if (!isProxyable(target))
    return `${schemeOf(target.url)}:// has no host:port address (and the target gives no deadUrl)`;
  return undefined;
}

/**
 * Expects `url` to be unusable: either `connect` rejects with BackendUnavailableError, or
 * (adapters that connect lazily) the first operations do — within the timeout plus slack.
 */
async function expectUnavailable(ctx: TestContext, url: string, what: string): Promise<void> {
  const bound = CONNECT_TIMEOUT_MS + UNAVAILABLE_SLACK_MS;
  const start = performance.now();
  const connected = await settle(within(ctx.target.connect(url), bound * 2, `connect to ${what}`));
  if (!connected.ok) {
    check(
      connected.error instanceof BackendUnavailableError,
      `connect to ${what} failed with ${describeError(connected.error)}, not BackendUnavailableError`,
    );
    check(
      connected.ms <= bound,
      `connect to ${what} failed only after ${fmt(connected.ms)} (connectTimeoutMs ${CONNECT_TIMEOUT_MS})`,
    );
    ctx.log(`${what}: connect rejected with BackendUnavailableError in ${fmt(connected.ms)}`);
    return;
  }
  const coordinator = connected.value;
  ctx.defer(() => within(coordinator.close(), 10_000, `close() of a client of ${what}`));
  const attempt = await settle(
    within(coordinator.lock(ctx.name('dead')).tryAcquire(), bound * 2, `tryAcquire on ${what}`),
  );
  const total = performance.now() - start;
  check(!attempt.ok, `tryAcquire on ${what} succeeded`);
  check(
    attempt.error instanceof BackendUnavailableError,
    `tryAcquire on ${what} failed with ${describeError(attempt.error)}, not BackendUnavailableError`,
  );
  check(
    total <= bound,
    `${what}: connect + tryAcquire failed only after ${fmt(total)} (connectTimeoutMs ${CONNECT_TIMEOUT_MS})`,
  );
  ctx.log(
    `${what}: connect resolved lazily; the first tryAcquire rejected with BackendUnavailableError after ${fmt(total)}`,
  );
}

export const backendUnavailable: ConformanceTest = {
  id: 'backend.unavailable',
  title: 'a dead address gives `BackendUnavailableError` within its timeout',
  requires: requireAddress,
  async run(ctx) {
    let dead = ctx.target.deadUrl;
    if (dead === undefined) {
      const hosts = [];
      for (const _ of hostList(ctx.target.url)) hosts.push({ host: '127.0.0.1', port: await deadPort() });
      dead = withHostList(ctx.target.url, hosts);
    }
    await expectUnavailable(
      ctx,
      withQueryParam(dead, 'connectTimeoutMs', String(CONNECT_TIMEOUT_MS)),
      'a dead address',
    );
    await expectOptionRejected(ctx, withQueryParam(dead, 'connectTimeoutMS', String(CONNECT_TIMEOUT_MS)));

    // A black hole is harder than a refused connection: the TCP handshake succeeds and then
    // nothing answers. It must still fail in time, never hang.
    if (isProxyable(ctx.target)) {
      const proxy = await proxyTarget(ctx);
      proxy.pause();
      await expectUnavailable(
        ctx,
        withQueryParam(proxy.url, 'connectTimeoutMs', String(CONNECT_TIMEOUT_MS)),
        'an address that accepts connections but never answers',
      );
      proxy.heal();
    }
  },
};

/**
 * A misspelt option is a mistake to report, not a default to fall back on, and it is found
 * before any I/O: at once, with the option's name, not after a connect timeout.
 */
async function expectOptionRejected(ctx: TestContext, url: string): Promise<void> {
  const attempt = await settle(within(ctx.target.connect(url), 10_000, 'connect with a misspelt option'));
  if (attempt.ok) {
    await attempt.value.close();
    throw new Error('connect() with a misspelt URL option (connectTimeoutMS) succeeded');
  }
  check(
    attempt.error instanceof InvalidArgumentError,
    `connect() with a misspelt URL option failed with ${describeError(attempt.error)}, not InvalidArgumentError`,
  );
  check(
    attempt.ms < CONNECT_TIMEOUT_MS,
    `a misspelt URL option was rejected only after ${fmt(attempt.ms)}: after I/O, not before`,
  );
  ctx.log(
    `a misspelt URL option: InvalidArgumentError in ${fmt(attempt.ms)} (${(attempt.error as Error).message})`,
  );
}

/** How long the timing-out variants wait: long enough that an early exit cannot pass for one. */
const KEEPALIVE_WAIT_MS = 400;

export const backendKeepalive: ConformanceTest = {
  id: 'backend.keepalive',
  title: 'a pending `acquire` keeps the process alive until it settles (timeouts included)',
  timeoutMs: 120_000,
  async run(ctx) {
    const holder = isInProcess(ctx.target) ? 'child' : 'parent';
    const outcomes: string[] = [];
    for (const ends of ['waitMs', 'signal', 'lease'] as const) {
      outcomes.push(await waitAlone(ctx, { ends, timeoutMs: KEEPALIVE_WAIT_MS, holder }));
    }
    ctx.log(`holder in the ${holder} process; ${outcomes.join('; ')}`);
  },
};

/**
 * Runs one acquire in a child process that has nothing else to do, and checks it printed the
 * expected outcome and then exited by itself with code 0.
 */
async function waitAlone(ctx: TestContext, scenario: WaitScenario): Promise<string> {
  const name = ctx.name(`keepalive-${scenario.ends}`);
  const child = spawnChild({
    mode: 'wait',
    url: ctx.target.url,
    adapterModule: ctx.target.adapterModule,
    names: [name],
    ttlMs: ctx.ttlMs,
    wait: scenario,
  });
  ctx.defer(() => child.dispose());
  await child.next('ready', 30_000);
  let leaseEnds: number | undefined;
  if (scenario.holder === 'parent') {
    const [parent] = await ctx.clients(1);
    const pure = scenario.ends === 'lease';
    const held = await parent!
      .lock(name, { ttlMs: ctx.ttlMs, autoExtend: !pure })
      .acquire({ waitMs: 30_000 });
    if (pure) leaseEnds = Date.now() + ctx.ttlMs;
    ctx.defer(() => held.release());
  }
  child.send('go');
  const bound = (scenario.ends === 'lease' ? lossBoundMs(ctx) : scenario.timeoutMs) + 15_000;
  const exit = await within(child.exited, bound, `the waiting child process (${scenario.ends}) ending`);
  const settled = child.events.find((e) => e.event === 'granted' || e.event === 'rejected');
  const what = `a child whose only work is acquire(${describeWait(scenario)})`;
  check(
    settled !== undefined,
    `${what} exited (code ${exit.code ?? exit.signal}) before its acquire settled; stderr: ${child.stderr().trim() || '(none)'}`,
  );
  checkEqual(exit.code, 0, `exit code of ${what}`);
  if (scenario.ends === 'lease') {
    check(settled!.event === 'granted', `${what} was not granted once the holder's pure lease ran out`);
    if (leaseEnds !== undefined)
      check(
        settled!.at >= leaseEnds - 200,
        `${what} was granted ${fmt(leaseEnds - settled!.at)} before the holder's lease ended`,
      );
  } else {
    const expected = scenario.ends === 'waitMs' ? 'LOCK_TIMEOUT' : 'TimeoutError';
    check(settled!.event === 'rejected', `${what} was granted a lock someone else held`);
    checkEqual((settled as { reason: string }).reason, expected, `how ${what} ended`);
  }
  return `${scenario.ends}: ${settled!.event}, exit ${exit.code}`;
}

function describeWait(scenario: WaitScenario): string {
  if (scenario.ends === 'waitMs') return `{ waitMs: ${scenario.timeoutMs} }`;
  if (scenario.ends === 'signal') return `{ signal: AbortSignal.timeout(${scenario.timeoutMs}) }`;
  return "no options, while the holder's autoExtend: false lease runs out";
}

export const backendClose: ConformanceTest = {
  id: 'backend.close',
  title: '`close()` releases held locks, stops timers, and lets the process exit',
  timeoutMs: 90_000,
  async run(ctx) {
    await closeInProcess(ctx);
    await closeLetsProcessExit(ctx);
  },
};

async function closeInProcess(ctx: TestContext): Promise<void> {
  const [closing, other] = await ctx.clients(2);
  const renewed = ctx.name('close-renewed');
  const lease = ctx.name('close-lease');
  const blocked = ctx.name('close-blocked');
  const h1 = await closing!.lock(renewed).acquire({ waitMs: 30_000 });
  // The default lease (15 s or more): if close() did not release it, nobody could get it soon.
  const h2 = await closing!.lock(lease, { autoExtend: false }).acquire({ waitMs: 30_000 });
  const blocker = await other!.lock(blocked).acquire({ waitMs: 30_000 });
  const pending = settle(closing!.lock(blocked).acquire());
  if (ctx.capabilities.counter.supported) await closing!.counter(ctx.name('close-counter')).increment();
  await ctx.sleep(50);

  const closeTime = await settle(within(closing!.close(), 10_000, 'close()'));
  if (!closeTime.ok) throw closeTime.error;
  const waited = await within(pending, 2_000, 'a wait pending when close() was called');
  check(!waited.ok, 'a wait pending during close() was granted instead of rejected');

  for (const name of [renewed, lease]) {
    const freed = await other!.lock(name).tryAcquire();
    check(freed !== null, `a lock held by a closed client was not free right after close()`);
    await freed.release();
  }
  checkEqual(await h1.release(), false, 'release() of a handle after close()');
  checkEqual(await h2.isHeld(), false, 'isHeld() of a handle after close()');
  await blocker.release();

  const afterClose = await settle(closing!.lock(renewed).tryAcquire());
  check(!afterClose.ok, 'tryAcquire on a closed coordinator succeeded');
  if (ctx.capabilities.counter.supported) {
    const counterAfter = await settle(closing!.counter('x').increment());
    check(!counterAfter.ok, 'increment on a closed coordinator succeeded');
  }
  await within(closing!.close(), 5_000, 'a second close()');
  ctx.log(`close() with 2 held locks and a pending wait took ${fmt(closeTime.ms)}; both locks free at once`);
}

/** A child process that held locks, waited and counted must exit on its own after close(). */
async function closeLetsProcessExit(ctx: TestContext): Promise<void> {
  const names = [ctx.name('child-renewed'), ctx.name('child-lease')];
  const child = spawnChild({
    mode: 'close',
    url: ctx.target.url,
    adapterModule: ctx.target.adapterModule,
    names,
    ttlMs: ctx.ttlMs,
    ...(ctx.capabilities.counter.supported ? { counter: ctx.name('child-counter') } : {}),
  });
  ctx.defer(() => child.dispose());
  await child.next('ready', 30_000);
  const closed = await child.next('closed', 15_000);
  const exitBound = 5_000;
  const exit = await within(
    child.exited,
    exitBound,
    'the child process exiting by itself after close()',
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message} — something close() left behind keeps the event loop alive`);
  });
  checkEqual(exit.code, 0, 'exit code of the child process after close()');
  check(closed.waitRejected, 'a wait pending in the child when close() was called was not rejected');
  ctx.log(`child process exited ${fmt(exit.at - closed.at)} after close() resolved`);
  if (!isInProcess(ctx.target)) {
    const [observer] = await ctx.clients(1);
    for (const name of names) {
      const freed = await (observer as Coordinator).lock(name).tryAcquire();
      check(freed !== null, "a lock held by the child's closed coordinator was not free after it exited");
      await freed.release();
    }
  }
}
