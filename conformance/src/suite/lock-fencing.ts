/**
 * Fencing tokens: where `fencing: 'monotonic'` is declared, every grant of a name carries a
 * larger bigint than every earlier grant — after release, handoff, expiry and reconnect.
 * @module
 */
import { type LockHandle, UnsupportedError } from '@lockstep/core';
import { check, checkEqual, expectThrow } from './assert.js';
import { abortedWithin, lossBoundMs } from './timing.js';
import type { ConformanceTest } from './types.js';

export const lockFencing: ConformanceTest = {
  id: 'lock.fencing',
  title: 'tokens strictly increase across grants (where declared)',
  async run(ctx) {
    const [a, b] = await ctx.clients(2);
    const name = ctx.name('fencing');

    if (ctx.capabilities.lock.fencing === 'none') {
      const handle = await a!.lock(name).acquire({ waitMs: 30_000 });
      expectThrow(
        () => handle.fencingToken,
        UnsupportedError,
        "reading fencingToken with fencing: 'none' declared",
      );
      await handle.release();
      ctx.skip("capability fencing: 'none' declared (checked: reading fencingToken throws UnsupportedError)");
    }

    const grants: Array<{ how: string; token: bigint }> = [];
    const record = (how: string, handle: LockHandle) => {
      const token = handle.fencingToken;
      check(typeof token === 'bigint', `${how}: fencingToken is a ${typeof token}, not a bigint`);
      checkEqual(handle.fencingToken, token, `${how}: fencingToken read twice`);
      grants.push({ how, token });
    };

    const first = await a!.lock(name).tryAcquire();
    check(first !== null, 'tryAcquire on a free lock returned null');
    record('tryAcquire', first);
    await first.extend();
    checkEqual(first.fencingToken, grants[0]!.token, 'fencingToken after extend()');
    await first.release();

    const second = await b!.lock(name).acquire({ waitMs: 30_000 });
    record('acquire by another client', second);
    const waiting = a!.lock(name).acquire({ waitMs: 30_000, signal: ctx.signal });
    await ctx.sleep(50);
    await second.release();
    const third = await waiting;
    record('handoff to a waiter', third);
    await third.release();

    // Expiry, not release: the next grant must still be larger.
    const lapsed = await a!.lock(name, { ttlMs: ctx.ttlMs, autoExtend: false }).acquire({ waitMs: 30_000 });
    record('pure lease', lapsed);
    const afterExpiry = await b!.lock(name).acquire({ waitMs: lossBoundMs(ctx), signal: ctx.signal });
    record('after the previous lease expired', afterExpiry);
    await abortedWithin(lapsed.signal, lossBoundMs(ctx));
    await afterExpiry.release();

    // A brand-new client (new connections) continues the sequence.
    const fresh = await ctx.client();
    const later = await fresh.lock(name).acquire({ waitMs: 30_000 });
    record('a new client', later);
    await later.release();

    for (let i = 1; i < grants.length; i++) {
      const before = grants[i - 1]!;
      const now = grants[i]!;
      check(
        now.token > before.token,
        `token ${now.token} (${now.how}) is not larger than ${before.token} (${before.how})`,
      );
    }
    ctx.log(`tokens: ${grants.map((g) => `${g.token}`).join(' < ')}`);
  },
};
