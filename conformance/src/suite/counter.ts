/**
 * Counters: atomic increments from many clients, compare-and-set, bounds enforced atomically
 * on the server, and bad input refused before any I/O.
 * @module
 */
import { CounterBoundError, InvalidArgumentError, UnsupportedError } from '@lockstep/core';
import { isProxyable } from '../target.js';
import { check, checkEqual, expectRejection, expectThrow, settle, show, within } from './assert.js';
import { proxyTarget, requireCounters } from './support.js';
import { fmt } from './timing.js';
import type { ConformanceTest } from './types.js';

const ATOMIC_CLIENTS = 4;
const ATOMIC_PER_CLIENT = 50;

export const counterAtomic: ConformanceTest = {
  id: 'counter.atomic',
  title: 'N clients x M concurrent increments: exact total, every +1 result distinct',
  requires: requireCounters,
  async run(ctx) {
    const clients = await ctx.clients(ATOMIC_CLIENTS);
    const name = ctx.name('atomic');
    const results = (
      await Promise.all(
        clients.map((client) => {
          const counter = client.counter(name);
          // All at once from each client: this is where coalescing merges calls.
          return Promise.all(Array.from({ length: ATOMIC_PER_CLIENT }, () => counter.increment()));
        }),
      )
    ).flat();
    const total = ATOMIC_CLIENTS * ATOMIC_PER_CLIENT;
    checkEqual(await clients[0]!.counter(name).get(), total, 'value after concurrent increments');
    const distinct = new Set(results);
    checkEqual(distinct.size, total, 'distinct values returned by concurrent increments');
    const sorted = [...distinct].sort((x, y) => x - y);
    check(
      sorted[0] === 1 && sorted[total - 1] === total,
      `increment results span ${sorted[0]}..${sorted.at(-1)}, not 1..${total}`,
    );

    const down = await Promise.all(clients.map((client) => client.counter(name).decrement(3)));
    checkEqual(new Set(down).size, ATOMIC_CLIENTS, 'distinct values returned by concurrent decrement(3)');
    checkEqual(
      await clients[1]!.counter(name).get(),
      total - 3 * ATOMIC_CLIENTS,
      'value after concurrent decrements',
    );
    ctx.log(`${total} concurrent increments from ${ATOMIC_CLIENTS} clients: exact, all distinct`);
  },
};

export const counterCas: ConformanceTest = {
  id: 'counter.cas',
  title: 'compareAndSet semantics',
  requires: requireCounters,
  async run(ctx) {
    const clients = await ctx.clients(4);
    const name = ctx.name('cas');
    const counter = clients[0]!.counter(name);
    checkEqual(await counter.compareAndSet(1, 9), false, 'compareAndSet(1, 9) on a never-written counter');
    checkEqual(await counter.get(), 0, 'value after a failed compareAndSet');
    checkEqual(
      await counter.compareAndSet(0, 5),
      true,
      'compareAndSet(0, 5) on a never-written counter (counts as 0)',
    );
    checkEqual(await counter.get(), 5, 'value after compareAndSet(0, 5)');
    checkEqual(await counter.compareAndSet(0, 7), false, 'compareAndSet(0, 7) when the value is 5');
    checkEqual(await counter.compareAndSet(5, 5), true, 'compareAndSet(5, 5) (same value)');
    checkEqual(await counter.compareAndSet(5, -3), true, 'compareAndSet(5, -3) (negative values)');
    checkEqual(await counter.increment(), -2, 'increment() after compareAndSet(5, -3)');

    // Racing compareAndSet from many clients on one expected value: exactly one wins.
    const racers = clients.flatMap((client, c) =>
      [0, 1].map((k) => ({ counter: client.counter(name), next: 100 + c * 10 + k })),
    );
    const outcomes = await Promise.all(racers.map((r) => r.counter.compareAndSet(-2, r.next)));
    const winners = racers.filter((_, i) => outcomes[i]);
    checkEqual(winners.length, 1, 'racing compareAndSet(-2, …) calls that returned true');
    checkEqual(await counter.get(), winners[0]!.next, "value after the race (the winner's)");

    if (ctx.capabilities.counter.bounds) {
      const bounded = clients[1]!.counter(name, { min: 0, max: 200 });
      await expectRejection(
        () => bounded.compareAndSet(winners[0]!.next, 201),
        CounterBoundError,
        'compareAndSet to 201 with max 200',
      );
      checkEqual(await counter.get(), winners[0]!.next, 'value after an out-of-bounds compareAndSet');
    }
    await expectRejection(() => counter.compareAndSet(1.5, 2), InvalidArgumentError, 'compareAndSet(1.5, 2)');
    await expectRejection(
      () => counter.compareAndSet(winners[0]!.next, Number.NaN),
      InvalidArgumentError,
      'compareAndSet(v, NaN)',
    );
    checkEqual(await counter.get(), winners[0]!.next, 'value after invalid compareAndSet calls');
  },
};

export const counterBounds: ConformanceTest = {
  id: 'counter.bounds',
  title: 'min/max enforced atomically; a violating call writes nothing',
  requires: requireCounters,
  async run(ctx) {
    const clients = await ctx.clients(4);
    const name = ctx.name('bounds');
    if (!ctx.capabilities.counter.bounds) {
      expectThrow(
        () => clients[0]!.counter(name, { min: 0 }),
        UnsupportedError,
        'counter(name, { min: 0 }) with bounds: false declared',
      );
      ctx.skip(
        'capability counter.bounds: false declared (checked: bounded counters throw UnsupportedError)',
      );
    }
    const max = 10;
    // 20 increments race for 10 slots: exactly 10 may succeed, with distinct results.
    const attempts = await Promise.all(
      clients.flatMap((client) => {
        const counter = client.counter(name, { min: 0, max });
        return Array.from({ length: 5 }, () => settle(counter.increment()));
      }),
    );
    const granted = attempts.flatMap((a) => (a.ok ? [a.value] : []));
    const refused = attempts.filter((a) => !a.ok);
    for (const failure of refused) {
      check(
        !failure.ok && failure.error instanceof CounterBoundError,
        `an increment failed with ${show(failure.ok ? null : failure.error)}`,
      );
    }
    checkEqual(granted.length, max, 'increments that succeeded against max 10 (20 tried)');
    checkEqual(new Set(granted).size, max, 'distinct values among successful bounded increments');
    const counter = clients[0]!.counter(name, { min: 0, max });
    checkEqual(await counter.get(), max, 'value after racing the max');

    await expectRejection(
      () => counter.decrement(max + 1),
      CounterBoundError,
      `decrement(${max + 1}) from ${max} with min 0`,
    );
    await expectRejection(() => counter.set(max + 1), CounterBoundError, `set(${max + 1}) with max ${max}`);
    await expectRejection(() => counter.set(-1), CounterBoundError, 'set(-1) with min 0');
    checkEqual(await counter.get(), max, 'value after calls that would cross a bound');
    await counter.set(8);
    await expectRejection(() => counter.increment(5), CounterBoundError, 'increment(5) from 8 with max 10');
    checkEqual(await counter.get(), 8, 'value after increment(5) was refused');

    // And back down: 20 decrements race for 8 units above min 0.
    const downs = await Promise.all(
      clients.flatMap((client) => {
        const c = client.counter(name, { min: 0, max });
        return Array.from({ length: 5 }, () => settle(c.decrement()));
      }),
    );
    checkEqual(
      downs.filter((d) => d.ok).length,
      8,
      'decrements that succeeded above min 0 (20 tried from 8)',
    );
    checkEqual(await counter.get(), 0, 'value after racing the min');

    // Bounds belong to the Counter object, not to the stored value.
    const unbounded = clients[1]!.counter(name);
    checkEqual(await unbounded.decrement(), -1, 'an unbounded Counter on the same name');
    await expectRejection(
      () => counter.decrement(),
      CounterBoundError,
      'a bounded decrement below min while the value is -1',
    );
    checkEqual(await counter.get(), -1, 'value after the refused decrement');
    ctx.log(
      `20 racing increments against max ${max}: ${granted.length} succeeded, ${refused.length} refused, nothing over-written`,
    );
  },
};

export const counterInput: ConformanceTest = {
  id: 'counter.input',
  title: 'NaN, fractions, unsafe integers, non-numbers: typed error, nothing written',
  requires: requireCounters,
  async run(ctx) {
    const [client] = await ctx.clients(1);
    const name = ctx.name('input');
    // Through a paused proxy where possible: a bad input that reached the backend would hang
    // there, so a prompt rejection proves it never left the process.
    let viaProxy: import('@lockstep/core').Coordinator = client!;
    let proxy: Awaited<ReturnType<typeof proxyTarget>> | undefined;
    if (isProxyable(ctx.target)) {
      proxy = await proxyTarget(ctx);
      viaProxy = await ctx.client(proxy.url);
      await viaProxy.counter(name).get();
    }
    await client!.counter(name).set(7);
    const counter = viaProxy.counter(name);
    const bad: unknown[] = [
      Number.NaN,
      1.5,
      -0.5,
      2 ** 53,
      -(2 ** 53),
      Number.POSITIVE_INFINITY,
      '1',
      null,
      {},
      1n,
      true,
    ];
    proxy?.pause();
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [];
      for (const value of bad) {
        const v = value as number;
        calls.push([`increment(${show(value)})`, () => counter.increment(v)]);
        calls.push([`decrement(${show(value)})`, () => counter.decrement(v)]);
        calls.push([`set(${show(value)})`, () => counter.set(v)]);
        calls.push([`compareAndSet(7, ${show(value)})`, () => counter.compareAndSet(7, v)]);
        calls.push([`compareAndSet(${show(value)}, 8)`, () => counter.compareAndSet(v, 8)]);
      }
      calls.push(['increment(0)', () => counter.increment(0)]);
      calls.push(['increment(-1)', () => counter.increment(-1)]);
      calls.push(['decrement(0)', () => counter.decrement(0)]);
      for (const [what, call] of calls) {
        await within(
          expectRejection(call, InvalidArgumentError, what),
          1_000,
          `${what} (rejection must not wait for the backend)`,
        );
      }
      for (const options of [
        { min: 1.5 },
        { max: Number.NaN },
        { min: 5, max: 1 },
        { min: '0' },
        { max: 2 ** 60 },
      ]) {
        expectThrow(
          () => viaProxy.counter(name, options as { min?: number; max?: number }),
          InvalidArgumentError,
          `counter(name, ${show(options)})`,
        );
      }
      ctx.log(
        `${calls.length} invalid calls rejected with InvalidArgumentError${proxy ? ' while the backend was unreachable' : ''}`,
      );
    } finally {
      proxy?.heal();
    }
    const start = performance.now();
    checkEqual(await client!.counter(name).get(), 7, 'value after invalid calls');
    ctx.log(`value unchanged (read in ${fmt(performance.now() - start)})`);
  },
};
