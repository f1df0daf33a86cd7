/**
 * interop.consul-lock.semaphore: `semaphore(name, { permits, native: PREFIX })` counts the same
 * slots as `consul lock -n LIMIT PREFIX …` (hashicorp/consul api/semaphore.go): contenders
 * `PREFIX/<session>` held by their session, `{ Limit, Holders }` in `PREFIX/.lock` changed by CAS.
 * Each side is refused or waits while the other holds every slot and takes the slot the other
 * gives back; under contention the two never hold more than the Limit together; a Limit that
 * disagrees with the one in use is refused on both sides. The Go side is a TypeScript
 * transcription of api/semaphore.go ({@link ApiSemaphore}) and the server here is the emulator:
 * reports label those results `emulator`, never Consul results.
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
} from '@lockstep/conformance/interop';
import { InvalidArgumentError } from '@lockstep/core';
import { getPair, SEMAPHORE_FLAG_VALUE } from './api-lock.js';
import { ApiSemaphore } from './api-semaphore.js';
import { contendBothSides, minTtlOf } from './contention.js';
import { agentOf } from './raw.js';

/** The agent, the minimum TTL, api/semaphore.go semaphores released when the scenario ends. */
function setting(target: ConformanceTarget, ctx: InteropContext) {
  const httpUrl = agentOf(target.url);
  const minTtlMs = minTtlOf(target.url);
  return {
    httpUrl,
    minTtlMs,
    /**
     * `.lock` as api/semaphore.go reads it: its Limit, and the Holders it counts (those whose
     * session holds some key under the prefix).
     */
    stored: async (prefix: string) => {
      const { pair } = await getPair(httpUrl, `${prefix}/.lock`, '');
      const listed = await fetch(`${httpUrl}/v1/kv/${prefix}/?recurse`);
      const pairs = listed.status === 200 ? ((await listed.json()) as Array<{ Session?: string }>) : [];
      const alive = new Set(pairs.flatMap((entry) => (entry.Session ? [entry.Session] : [])));
      const res = await fetch(`${httpUrl}/v1/kv/${prefix}/.lock?raw`);
      const value =
        res.status === 200 ? (JSON.parse(await res.text()) as { Limit: number; Holders: object }) : undefined;
      const holders = Object.keys(value?.Holders ?? {}).filter((holder) => alive.has(holder));
      return { flags: pair?.Flags, limit: value?.Limit, holders: holders.sort() };
    },
    apiSemaphore: (prefix: string, limit: number) => {
      const semaphore = new ApiSemaphore({
        httpUrl,
        prefix,
        limit,
        sessionTtl: `${minTtlMs / 1000}s`,
        value: 'go-client',
      });
      ctx.defer(() => semaphore.release().catch(() => {}));
      return semaphore;
    },
  };
}

/** Whether `promise` settled within `ms` (it keeps running either way). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await delay(ms);
  return settled;
}

/** Go holds every slot: lockstep is refused, waits, and takes the slot a Go holder releases. */
async function goHoldsEverySlot(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const { apiSemaphore, stored, minTtlMs } = setting(target, ctx);
  const prefix = ctx.place('exports');
  const [go1, go2] = [apiSemaphore(prefix, 2), apiSemaphore(prefix, 2)];
  await go1.acquire();
  await go2.acquire();
  checkEqual(
    (await stored(prefix)).holders.join(','),
    [go1.session, go2.session].sort().join(','),
    'Holders',
  );

  const coord = await ctx.open();
  const semaphore = coord.semaphore('exports', { permits: 2, native: `/${prefix}/`, ttlMs: minTtlMs });
  checkEqual(await semaphore.tryAcquire(), null, 'tryAcquire while Go holds both slots');
  const waiting = semaphore.acquire({ waitMs: 15_000 });
  waiting.catch(() => {});
  checkEqual(await settlesWithin(waiting, 300), false, 'lockstep granted while Go holds both slots');

  const releasedAt = performance.now();
  await go1.release();
  const permit = await waiting;
  const lag = performance.now() - releasedAt;
  check(lag < 2_000, `lockstep took the freed slot ${Math.round(lag)} ms after Go's release (limit 2000)`);
  const after = await stored(prefix);
  checkEqual(after.flags, SEMAPHORE_FLAG_VALUE, "the semaphore key's flags");
  checkEqual(after.limit, 2, 'the stored Limit');
  checkEqual(after.holders.length, 2, 'Holders once lockstep took the slot');
  check(after.holders.includes(go2.session), 'the Go holder left among Holders');
  check(!after.holders.includes(go1.session), 'the Go holder that released is still among Holders');
  checkEqual(go2.lost.signal.aborted, false, "the remaining Go holder's monitor reported a loss");
  checkEqual(await permit.release(), true, "lockstep's release");
  checkEqual((await stored(prefix)).holders.join(','), go2.session, 'Holders after lockstep released');
}

/** lockstep holds every slot: a Go contender waits, and takes the slot lockstep releases. */
async function lockstepHoldsEverySlot(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const { apiSemaphore, stored, minTtlMs } = setting(target, ctx);
  const prefix = ctx.place('imports');
  const coords = [await ctx.open(), await ctx.open()];
  const [a, b] = coords.map((c) =>
    c.semaphore('imports', { permits: 2, native: prefix, ttlMs: minTtlMs }),
  ) as [ReturnType<(typeof coords)[0]['semaphore']>, ReturnType<(typeof coords)[0]['semaphore']>];
  const first = await a.acquire();
  const second = await b.acquire();
  check(second.fencingToken > first.fencingToken, 'tokens of the two permits not increasing');
  checkEqual((await stored(prefix)).holders.length, 2, 'Holders while lockstep holds both permits');

  const go = apiSemaphore(prefix, 2);
  const goAcquiring = go.acquire();
  goAcquiring.catch(() => {});
  checkEqual(await settlesWithin(goAcquiring, 300), false, 'Go took a slot while lockstep holds both');

  const releasedAt = performance.now();
  checkEqual(await first.release(), true, "lockstep's release");
  await goAcquiring;
  const lag = performance.now() - releasedAt;
  check(lag < 2_000, `Go took the freed slot ${Math.round(lag)} ms after lockstep's release (limit 2000)`);
  checkEqual(await a.tryAcquire(), null, 'tryAcquire while Go and lockstep hold both slots');
  checkEqual(await second.isHeld(), true, "lockstep's other permit after Go took the freed slot");
  await go.release();
  const again = await a.acquire({ waitMs: 5_000 });
  check(again.fencingToken > second.fencingToken, 'a later permit did not get a larger token');
  await again.release();
  await second.release();
}

/** Two Go contenders and two lockstep clients on 2 slots: never more than 2 inside. */
async function contention(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const { apiSemaphore, minTtlMs } = setting(target, ctx);
  const prefix = ctx.place('shared');
  const semaphores = [await ctx.open(), await ctx.open()].map((c) =>
    c.semaphore('shared', { permits: 2, native: prefix, ttlMs: minTtlMs }),
  );
  const peer = async () => {
    const semaphore = apiSemaphore(prefix, 2);
    await semaphore.acquire();
    return () => semaphore.release();
  };
  const lockstep = semaphores.map((semaphore) => () => semaphore.acquire({ waitMs: 20_000 }));
  const section = new CriticalSection(2);
  await contendBothSides(section, { lockstep, peer, peerName: 'api/semaphore.go' }, 5, 3_000);
  checkEqual(section.most, 2, 'the most holders inside at once (both slots used)');
}

/** A Limit other than the one in use is refused on both sides, and nothing is written. */
async function limitConflict(target: ConformanceTarget, ctx: InteropContext): Promise<void> {
  const { apiSemaphore, stored, minTtlMs } = setting(target, ctx);
  const prefix = ctx.place('limits');
  const coord = await ctx.open();
  const ours = await coord.semaphore('limits', { permits: 2, native: prefix, ttlMs: minTtlMs }).acquire();
  const go = apiSemaphore(prefix, 3);
  await expectRejection(
    go.acquire(),
    (error) => error instanceof Error && /semaphore limit conflict \(lock: 2, local: 3\)/.test(error.message),
    "Go's Acquire with Limit 3 while lockstep holds with 2",
  );
  await ours.release();

  const goHolder = apiSemaphore(prefix, 2);
  await goHolder.acquire();
  const before = await stored(prefix);
  await expectRejection(
    coord.semaphore('limits', { permits: 3, native: prefix, ttlMs: minTtlMs }).acquire({ waitMs: 2_000 }),
    InvalidArgumentError,
    "lockstep's acquire declaring 3 while Go holds with Limit 2",
  );
  const after = await stored(prefix);
  checkEqual(after.limit, before.limit, 'the stored Limit after the refused acquire');
  checkEqual(after.holders.join(','), goHolder.session, 'Holders after the refused acquire');
  checkEqual(goHolder.lost.signal.aborted, false, "the Go holder's monitor reported a loss");
}

/** The `interop.consul-lock.semaphore` scenarios. */
export const CONSUL_SEMAPHORE_INTEROP: readonly InteropScenario[] = [
  {
    id: 'interop.consul-lock.semaphore',
    title: 'api/semaphore.go holds every slot: lockstep is refused, waits, and takes the slot Go releases',
    run: (target, ctx) => goHoldsEverySlot(target, ctx),
  },
  {
    id: 'interop.consul-lock.semaphore',
    title: 'lockstep holds every permit: api/semaphore.go waits, and takes the slot lockstep releases',
    run: (target, ctx) => lockstepHoldsEverySlot(target, ctx),
  },
  {
    id: 'interop.consul-lock.semaphore',
    title: 'contention: two api/semaphore.go and two lockstep clients on 2 slots never hold more than 2',
    timeoutMs: 60_000,
    run: (target, ctx) => contention(target, ctx),
  },
  {
    id: 'interop.consul-lock.semaphore',
    title: 'a Limit that disagrees with the one in use is refused on both sides, writing nothing',
    run: (target, ctx) => limitConflict(target, ctx),
  },
];
