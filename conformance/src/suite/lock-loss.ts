/**
 * Loss must be observable: `handle.signal` aborts with `LockLostError` when a pure lease
 * expires and when the holder's connection is cut — and, for the cut, before anyone else
 * is granted the lock.
 * @module
 */
import { LockLostError } from '@lockstep/core';
import { isProxyable, schemeOf } from '../target.js';
import { check } from './assert.js';
import { proxyTarget } from './support.js';
import { abortedWithin, fmt, lossBoundMs } from './timing.js';
import type { ConformanceTest, TestContext } from './types.js';

export const lockLostSignal: ConformanceTest = {
  id: 'lock.lost-signal',
  title: 'loss (expiry, session expiry, cut connection) aborts `handle.signal` within a bound',
  timeoutMs: 90_000,
  async run(ctx) {
    await expiryAbortsSignal(ctx);
    if (isProxyable(ctx.target)) await cutConnectionAbortsSignal(ctx);
    else
      ctx.log(
        `cut connection: not checked (${schemeOf(ctx.target.url)}:// has no address a TCP proxy can front)`,
      );
  },
};

async function expiryAbortsSignal(ctx: TestContext): Promise<void> {
  const [a] = await ctx.clients(1);
  const ttl = ctx.ttlMs;
  const released = await a!.lock(ctx.name('released')).acquire({ waitMs: 30_000 });
  await released.release();

  const sentAt = performance.now();
  const lease = await a!
    .lock(ctx.name('lease'), { ttlMs: ttl, autoExtend: false })
    .acquire({ waitMs: 30_000 });
  const abortedAt = await abortedWithin(lease.signal, lossBoundMs(ctx));
  check(
    abortedAt !== undefined,
    `a pure ${ttl} ms lease ended but its signal did not abort within ${lossBoundMs(ctx)} ms`,
  );
  const after = abortedAt - sentAt;
  check(
    lease.signal.reason instanceof LockLostError,
    `the signal's reason is ${String(lease.signal.reason)}, not LockLostError`,
  );
  check(after >= ttl * 0.8, `the signal aborted ${fmt(after)} into a ${ttl} ms lease (too early)`);
  ctx.log(`pure lease of ${ttl} ms: signal aborted after ${fmt(after)}`);
  check(!released.signal.aborted, 'a released handle had its signal aborted (release must never abort it)');
}

async function cutConnectionAbortsSignal(ctx: TestContext): Promise<void> {
  const proxy = await proxyTarget(ctx);
  const proxied = await ctx.client(proxy.url);
  const [direct] = await ctx.clients(1);
  const name = ctx.name('cut');
  const held = await proxied.lock(name, { ttlMs: ctx.ttlMs }).acquire({ waitMs: 30_000 });
  const cutAt = performance.now();
  proxy.cut();

  const bound = lossBoundMs(ctx);
  const next = direct!.lock(name).acquire({ waitMs: bound + ctx.ttlMs, signal: ctx.signal });
  let grantedAt: number | undefined;
  void next.then(
    () => {
      grantedAt = performance.now();
    },
    () => {},
  );
  const abortedAt = await abortedWithin(held.signal, bound);
  check(
    abortedAt !== undefined,
    `the holder's connection was cut but its signal did not abort within ${bound} ms`,
  );
  check(held.signal.reason instanceof LockLostError, `the signal's reason is ${String(held.signal.reason)}`);
  const handle = await next;
  const granted = grantedAt ?? performance.now();
  await handle.release();
  proxy.heal();
  ctx.log(
    `cut connection: signal aborted after ${fmt(abortedAt - cutAt)}, another client was granted the lock after ${fmt(granted - cutAt)}`,
  );
  check(
    abortedAt <= granted,
    `another client was granted the lock ${fmt(abortedAt - granted)} before the cut holder's signal aborted`,
  );
}
