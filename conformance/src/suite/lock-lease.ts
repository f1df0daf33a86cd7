/**
 * The life of a lease: release, expiry, automatic renewal and explicit extension.
 * @module
 */
import { InvalidArgumentError, LockLostError } from '@lockstep/core';
import { check, checkEqual, expectRejection } from './assert.js';
import { abortedWithin, fmt, leaseSlackMs, lossBoundMs } from './timing.js';
import type { ConformanceTest } from './types.js';

export const lockRelease: ConformanceTest = {
  id: 'lock.release',
  title: "`release` is idempotent, frees at once, and a stale handle never frees another holder's lock",
  async run(ctx) {
    const [a, b, c] = await ctx.clients(3);
    const name = ctx.name('release');

    const first = await a!.lock(name).acquire({ waitMs: 30_000 });
    checkEqual(await first.release(), true, 'first release() of a held lock');
    checkEqual(await first.release(), false, 'second release() of the same handle');
    check(!first.signal.aborted, 'release() aborted the handle signal (it must only abort on loss)');
    checkEqual(await first.isHeld(), false, 'isHeld() after release');

    // Frees at once: not after the lease (default 15 s), not after a poll interval.
    const next = await b!.lock(name).tryAcquire();
    check(next !== null, 'the lock was not free right after release()');
    const both = await Promise.all([next.release(), next.release()]);
    checkEqual(both.filter(Boolean).length, 1, 'concurrent release() calls on one handle that returned true');

    const disposed = await a!.lock(name).acquire({ waitMs: 30_000 });
    await disposed[Symbol.asyncDispose]();
    const afterDispose = await b!.lock(name).tryAcquire();
    check(afterDispose !== null, '[Symbol.asyncDispose]() did not release the lock');
    await afterDispose.release();

    // A stale handle: its pure lease ended and someone else holds the lock now.
    const stale = await a!.lock(name, { ttlMs: ctx.ttlMs, autoExtend: false }).acquire({ waitMs: 30_000 });
    const current = await b!.lock(name).acquire({ waitMs: lossBoundMs(ctx), signal: ctx.signal });
    check(
      (await abortedWithin(stale.signal, leaseSlackMs(ctx))) !== undefined,
      "the expired handle's signal never aborted",
    );
    checkEqual(await stale.release(), false, 'release() of a stale handle (another client holds the lock)');
    checkEqual(await current.isHeld(), true, "the new holder's isHeld() after a stale release");
    const intruder = await c!.lock(name).tryAcquire();
    if (intruder) await intruder.release();
    check(intruder === null, "a stale handle's release() freed the new holder's lock");
    checkEqual(await current.release(), true, "the new holder's release()");
  },
};

export const lockExpiry: ConformanceTest = {
  id: 'lock.expiry',
  title: 'a holder that stops renewing loses the lock after its lease; others then acquire',
  async run(ctx) {
    const [a, b] = await ctx.clients(2);
    const name = ctx.name('expiry');
    const ttl = ctx.ttlMs;
    const sentAt = performance.now();
    const lapsed = await a!.lock(name, { ttlMs: ttl, autoExtend: false }).acquire({ waitMs: 30_000 });
    const grantedAt = performance.now();

    const next = await b!.lock(name).acquire({ waitMs: lossBoundMs(ctx), signal: ctx.signal });
    const nextAt = performance.now();
    // Let any timer due at the same instant run before judging the order of events.
    await new Promise((resolve) => setImmediate(resolve));
    const lapsedAbortedFirst = lapsed.signal.aborted;
    await next.release();

    ctx.log(`lease ${ttl} ms; next holder got the lock ${fmt(nextAt - grantedAt)} after the first grant`);
    check(
      nextAt - sentAt >= ttl * 0.9,
      `another client got the lock ${fmt(nextAt - sentAt)} after a ${ttl} ms lease began (before it ended)`,
    );
    check(
      lapsedAbortedFirst,
      "another client held the lock while the lapsed holder's signal still said it was held",
    );
    check(
      lapsed.signal.reason instanceof LockLostError,
      `the lapsed handle's signal reason is ${String(lapsed.signal.reason)}`,
    );
    checkEqual(await lapsed.isHeld(), false, "the lapsed handle's isHeld()");
  },
};

export const lockAutoExtend: ConformanceTest = {
  id: 'lock.auto-extend',
  title: 'holding well past ttl with renewal keeps exclusivity',
  async run(ctx) {
    const [a, b] = await ctx.clients(2);
    const name = ctx.name('auto-extend');
    const ttl = ctx.ttlMs;
    const held = await a!.lock(name, { ttlMs: ttl }).acquire({ waitMs: 30_000 });
    const until = performance.now() + 3 * ttl;
    let probes = 0;
    while (performance.now() < until) {
      await ctx.sleep(ttl / 2);
      const intruder = await b!.lock(name).tryAcquire();
      if (intruder) await intruder.release();
      check(
        intruder === null,
        `another client got the lock ${probes} probes into a renewed hold of ${ttl} ms leases`,
      );
      check(!held.signal.aborted, `the renewed handle's signal aborted: ${String(held.signal.reason)}`);
      probes++;
    }
    checkEqual(await held.isHeld(), true, 'isHeld() after 3 × ttl of renewal');
    checkEqual(await held.release(), true, 'release() after 3 × ttl of renewal');
    ctx.log(`held 3 × ${ttl} ms with renewal; ${probes} intruding tryAcquire calls all got null`);

    // withLock renews even for a lock created with autoExtend: false.
    const pure = a!.lock(ctx.name('with-lock'), { ttlMs: ttl, autoExtend: false });
    const result = await pure.withLock(async (handle) => {
      await ctx.sleep(2 * ttl);
      const intruder = await b!.lock(pure.name).tryAcquire();
      if (intruder) await intruder.release();
      check(intruder === null, 'withLock did not keep its lock past the ttl');
      check(!handle.signal.aborted, "withLock's handle signal aborted while fn ran");
      return 'done';
    });
    checkEqual(result, 'done', "withLock's return value");
    const after = await b!.lock(pure.name).tryAcquire();
    check(after !== null, 'withLock did not release when fn returned');
    await after.release();
  },
};

export const lockExtend: ConformanceTest = {
  id: 'lock.extend',
  title: '`extend` pushes the lease; after loss it rejects with `LockLostError`',
  async run(ctx) {
    const [a, b] = await ctx.clients(2);
    const name = ctx.name('extend');
    const ttl = ctx.ttlMs;
    const held = await a!.lock(name, { ttlMs: ttl, autoExtend: false }).acquire({ waitMs: 30_000 });
    const start = performance.now();
    await ctx.sleep(ttl / 2);
    await held.extend();
    // Now past the original lease end (start + ttl), inside the extended one.
    await ctx.sleep(Math.max(0, start + 1.25 * ttl - performance.now()));
    check(
      !held.signal.aborted,
      `the lease ended at its original deadline despite extend(): ${String(held.signal.reason)}`,
    );
    const intruder = await b!.lock(name).tryAcquire();
    if (intruder) await intruder.release();
    check(
      intruder === null,
      'another client got the lock after the original lease, although it was extended',
    );

    await expectRejection(() => held.extend(0), InvalidArgumentError, 'extend(0)');
    await held.extend(2 * ttl);
    check(held.ttlMs >= 2 * ttl, `extend(${2 * ttl}) left handle.ttlMs at ${held.ttlMs}`);
    const extendedAt = performance.now();
    const abortedAt = await abortedWithin(held.signal, 2 * ttl + leaseSlackMs(ctx));
    check(abortedAt !== undefined, 'the extended pure lease never ended');
    check(
      abortedAt - extendedAt >= 2 * ttl * 0.8,
      `extend(${2 * ttl}) lasted only ${fmt(abortedAt - extendedAt)}`,
    );
    await expectRejection(() => held.extend(), LockLostError, 'extend() after the lease ended');

    const released = await b!.lock(name).acquire({ waitMs: lossBoundMs(ctx), signal: ctx.signal });
    await released.release();
    await expectRejection(() => released.extend(), LockLostError, 'extend() after release()');
    ctx.log(
      `extend kept the lock past its first ${ttl} ms lease; extend(${2 * ttl}) lasted ${fmt(abortedAt - extendedAt)}`,
    );
  },
};
