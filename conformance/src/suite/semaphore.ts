/**
 * Semaphores: never more than K holders (checked over recorded holds), every permit usable,
 * `tryAcquire` that answers at once, a released permit handed to a waiter, permits of dead or
 * stopped holders coming back after their lease, tokens that order the permits, and an honest
 * rule for clients that declare different counts.
 * @module
 */
import { InvalidArgumentError, type LockHandle, type SemaphoreCapabilities } from '@lockstep/core';
import { checkPermits, type PermitHold } from '../checkers/permits.js';
import { type ChildClient, spawnChild } from '../child/spawn.js';
import { check, checkEqual, expectRejection } from './assert.js';
import { fencedToken, primitiveCaps, requirePrimitive, requirePrimitiveInProcesses } from './support.js';
import { fmt, leaseSlackMs, median } from './timing.js';
import type { ConformanceTest, TestContext } from './types.js';

/** The longest a lost permit may take to come back (per-session leases may outlive the TTL). */
function permitLossBoundMs(ctx: TestContext, caps: SemaphoreCapabilities): number {
  return (caps.lease === 'per-session' ? 2 * ctx.ttlMs : ctx.ttlMs) + leaseSlackMs(ctx);
}

const LIMIT_PERMITS = 3;
const LIMIT_CLIENTS = 6;
const LIMIT_CYCLES = 15;

export const semaphoreLimit: ConformanceTest = {
  id: 'semaphore.limit',
  title:
    'N clients x M cycles on a semaphore of K permits: never more than K holders (interval checker), all K used',
  requires: requirePrimitive('semaphore'),
  timeoutMs: 120_000,
  async run(ctx) {
    const caps = primitiveCaps(ctx.capabilities, 'semaphore')!;
    const clients = await ctx.clients(LIMIT_CLIENTS);
    const name = ctx.name('limit');
    const holds: PermitHold[] = [];
    let refusedReleases = 0;
    await Promise.all(
      clients.map(async (client, index) => {
        const semaphore = client.semaphore(name, { permits: LIMIT_PERMITS });
        for (let cycle = 0; cycle < LIMIT_CYCLES; cycle++) {
          const requestedAt = performance.now();
          const permit =
            (cycle % 2 === 0 ? await semaphore.tryAcquire() : null) ??
            (await semaphore.acquire({ waitMs: 60_000, signal: ctx.signal }));
          const acquiredAt = performance.now();
          // Hold across a few timer turns so holders really overlap.
          await new Promise((resolve) => setTimeout(resolve, 2 + (cycle % 4)));
          const releasedAt = performance.now();
          const fencingToken = fencedToken(permit, caps);
          holds.push({
            client: `client-${index}`,
            requestedAt,
            acquiredAt,
            releasedAt,
            ...(fencingToken === undefined ? {} : { fencingToken }),
          });
          if (!(await permit.release())) refusedReleases++;
        }
      }),
    );
    const result = checkPermits(holds, LIMIT_PERMITS);
    ctx.log(
      `${result.grants} grants, at most ${result.maxConcurrent} holders at once (K = ${LIMIT_PERMITS})`,
    );
    const excess = result.excess[0];
    check(
      result.excess.length === 0,
      `more than ${LIMIT_PERMITS} holders at once (${result.maxConcurrent})` +
        (excess
          ? `: ${excess.hold.client} entered while ${excess.inside.map((h) => h.client).join(', ')} held`
          : ''),
    );
    check(
      result.maxConcurrent === LIMIT_PERMITS,
      `only ${result.maxConcurrent} of ${LIMIT_PERMITS} permits were ever held at once by ${LIMIT_CLIENTS} contending clients`,
    );
    const duplicate = result.duplicateTokens[0];
    check(!duplicate, `two permits carried the same token ${duplicate?.[0].fencingToken}`);
    const inversion = result.tokenInversions[0];
    check(
      !inversion,
      `a permit granted after another (token ${inversion?.earlier.fencingToken}) got a token not larger: ${inversion?.later.fencingToken}`,
    );
    checkEqual(result.grants, LIMIT_CLIENTS * LIMIT_CYCLES, 'number of grants');
    checkEqual(refusedReleases, 0, 'release() calls that returned false for a permit the caller held');
  },
};

/** A tryAcquire that answers slower than this was waiting, not answering. */
const TRY_BOUND_MS = 2_000;

export const semaphoreTry: ConformanceTest = {
  id: 'semaphore.try',
  title: '`tryAcquire` returns `null` at once when every permit is held, and a permit once one is free',
  requires: requirePrimitive('semaphore'),
  async run(ctx) {
    const [a, b, c] = await ctx.clients(3);
    const name = ctx.name('try');
    const permits = [
      await a!.semaphore(name, { permits: 2 }).acquire({ waitMs: 30_000 }),
      await b!.semaphore(name, { permits: 2 }).acquire({ waitMs: 30_000 }),
    ];
    const started = performance.now();
    const refused = await c!.semaphore(name, { permits: 2 }).tryAcquire();
    const took = performance.now() - started;
    if (refused) await refused.release();
    check(refused === null, 'tryAcquire got a third permit of a semaphore of 2 with both held');
    check(took <= TRY_BOUND_MS, `tryAcquire took ${fmt(took)}: it waited instead of answering`);
    await permits[0]!.release();
    const granted = await c!.semaphore(name, { permits: 2 }).tryAcquire();
    check(granted !== null, 'tryAcquire got nothing although a permit had just been released');
    await granted.release();
    await permits[1]!.release();
    ctx.log(`refused at once (${fmt(took)}) with 2 of 2 held; granted right after a release`);
  },
};

const HANDOFF_ROUNDS = 5;

export const semaphoreHandoff: ConformanceTest = {
  id: 'semaphore.handoff',
  title: 'a waiting `acquire` is granted within a small bound after a permit is released',
  requires: requirePrimitive('semaphore'),
  async run(ctx) {
    const caps = primitiveCaps(ctx.capabilities, 'semaphore')!;
    const [a, b, waiter] = await ctx.clients(3);
    const name = ctx.name('handoff');
    const medianBound = caps.waiting === 'notify' ? 100 : 600;
    const holders = [a!, b!];
    const held = await Promise.all(
      holders.map((h) => h.semaphore(name, { permits: 2 }).acquire({ waitMs: 30_000 })),
    );
    const latencies: number[] = [];
    for (let round = 0; round < HANDOFF_ROUNDS; round++) {
      let grantedEarly = false;
      const waiting = waiter!.semaphore(name, { permits: 2 }).acquire({ waitMs: 30_000, signal: ctx.signal });
      void waiting.then(
        () => {
          grantedEarly = true;
        },
        () => {},
      );
      // No event says "the waiter is queued": wait past its first fallback re-check.
      await ctx.sleep(320 + 15 * round);
      check(!grantedEarly, 'a waiter got a third permit of a semaphore of 2 with both held');
      const index = round % 2;
      const releasedAt = performance.now();
      check(await held[index]!.release(), 'release() of a held permit returned false');
      const permit = await waiting;
      latencies.push(performance.now() - releasedAt);
      // The waiter hands its permit back; the holder that released takes one again.
      await permit.release();
      held[index] = await holders[index]!.semaphore(name, { permits: 2 }).acquire({ waitMs: 30_000 });
    }
    for (const permit of held) await permit.release();
    const mid = median(latencies);
    ctx.log(
      `release → grant: median ${fmt(mid)}, max ${fmt(Math.max(...latencies))} over ${latencies.length} handoffs`,
    );
    check(
      mid <= medianBound,
      `median handoff ${fmt(mid)} exceeds ${medianBound} ms for waiting: '${caps.waiting}'`,
    );
  },
};

export const semaphoreExpiry: ConformanceTest = {
  id: 'semaphore.expiry',
  title: 'permits whose holders stop renewing come back after their lease; others then acquire',
  requires: requirePrimitive('semaphore'),
  timeoutMs: 90_000,
  async run(ctx) {
    const caps = primitiveCaps(ctx.capabilities, 'semaphore')!;
    const [a, b] = await ctx.clients(2);
    const name = ctx.name('expiry');
    const stalled = await Promise.all(
      [0, 1].map(() =>
        a!.semaphore(name, { permits: 2, ttlMs: ctx.ttlMs, autoExtend: false }).acquire({ waitMs: 30_000 }),
      ),
    );
    const started = performance.now();
    const bound = permitLossBoundMs(ctx, caps);
    const next = await Promise.all(
      [0, 1].map(() => b!.semaphore(name, { permits: 2 }).acquire({ waitMs: bound, signal: ctx.signal })),
    );
    const after = performance.now() - started;
    check(
      after >= ctx.ttlMs * 0.5,
      `both permits came back after ${fmt(after)}, well inside the ${ctx.ttlMs} ms lease`,
    );
    // As for locks: the old holder's own expiry may run in the same turn as the new grant.
    await new Promise((resolve) => setImmediate(resolve));
    for (const old of stalled) {
      check(
        old.signal.aborted,
        "a stalled permit's signal had not aborted when its permit was granted again",
      );
      checkEqual(await old.release(), false, 'release() of a permit whose lease ended');
    }
    for (const permit of next)
      checkEqual(await permit.isHeld(), true, 'isHeld() of the permits granted afterwards');
    for (const permit of next) await permit.release();
    ctx.log(
      `lease ${ctx.ttlMs} ms: both permits granted again ${fmt(after)} after the stalled holders stopped`,
    );
  },
};

export const semaphoreProcessKill: ConformanceTest = {
  id: 'semaphore.process-kill',
  title: 'a SIGKILLed holder process: its permit is free after its lease',
  requires: requirePrimitiveInProcesses('semaphore', 'hold its permits'),
  timeoutMs: 90_000,
  async run(ctx) {
    const caps = primitiveCaps(ctx.capabilities, 'semaphore')!;
    const [parent] = await ctx.clients(1);
    const name = ctx.name('process-kill');
    const child: ChildClient = spawnChild({
      mode: 'hold',
      url: ctx.target.url,
      adapterModule: ctx.target.adapterModule,
      names: [name],
      ttlMs: ctx.ttlMs,
      semaphorePermits: 1,
    });
    ctx.defer(() => child.dispose());
    const acquired = await child.next('acquired', 30_000);
    const intruder = await parent!.semaphore(name, { permits: 1 }).tryAcquire();
    if (intruder) await intruder.release();
    check(intruder === null, 'the parent got the only permit the child process reported holding');
    const killedAt = performance.now();
    child.signal('SIGKILL');
    await child.exited;
    const next = await parent!
      .semaphore(name, { permits: 1 })
      .acquire({ waitMs: permitLossBoundMs(ctx, caps), signal: ctx.signal });
    const freedAfter = performance.now() - killedAt;
    if (caps.fencing === 'monotonic' && acquired.token !== null) {
      check(
        next.fencingToken > BigInt(acquired.token),
        `token ${next.fencingToken} after the kill is not larger than the dead holder's ${acquired.token}`,
      );
    }
    await next.release();
    ctx.log(
      `lease ${ctx.ttlMs} ms: the killed holder's permit was granted again ${fmt(freedAfter)} after SIGKILL`,
    );
  },
};

export const semaphoreFencing: ConformanceTest = {
  id: 'semaphore.fencing',
  title: 'every permit has its own token, and a permit granted after another has a larger one',
  requires: (caps) =>
    requirePrimitive('semaphore')(caps) ??
    (caps.semaphore?.supported && caps.semaphore.fencing === 'monotonic'
      ? undefined
      : "capability semaphore.fencing: 'none' declared"),
  async run(ctx) {
    const caps = primitiveCaps(ctx.capabilities, 'semaphore')!;
    const clients = await ctx.clients(3);
    const name = ctx.name('fencing');
    const tokens: bigint[] = [];
    // Sequential grants, alternating clients: each token larger than the one before.
    for (let round = 0; round < 9; round++) {
      const permit = await clients[round % 3]!.semaphore(name, { permits: 2 }).acquire({ waitMs: 30_000 });
      tokens.push(fencedToken(permit, caps)!);
      await permit.release();
    }
    for (let i = 1; i < tokens.length; i++) {
      check(
        tokens[i]! > tokens[i - 1]!,
        `token ${tokens[i]} of a later permit is not larger than ${tokens[i - 1]}`,
      );
    }
    // Concurrent permits: distinct tokens.
    const both = await Promise.all(
      clients.slice(0, 2).map((c) => c.semaphore(name, { permits: 2 }).acquire({ waitMs: 30_000 })),
    );
    check(both[0]!.fencingToken !== both[1]!.fencingToken, 'two permits held at once carry the same token');
    for (const permit of both) {
      check(
        permit.fencingToken > tokens.at(-1)!,
        'a permit granted after the sequential ones has a smaller token',
      );
      await permit.release();
    }
    ctx.log(
      `tokens ${tokens.join(' < ')}; two concurrent permits: ${both.map((p) => p.fencingToken).join(', ')}`,
    );
  },
};

export const semaphoreMismatch: ConformanceTest = {
  id: 'semaphore.mismatch',
  title: 'clients declaring different `permits` for one name: never more holders than the smaller count',
  requires: requirePrimitive('semaphore'),
  async run(ctx) {
    const caps = primitiveCaps(ctx.capabilities, 'semaphore')!;
    const [wide, narrow] = await ctx.clients(2);
    const name = ctx.name('mismatch');
    const held: LockHandle[] = [];
    for (let i = 0; i < 3; i++) {
      const permit = await wide!.semaphore(name, { permits: 3 }).tryAcquire();
      check(permit !== null, `permit ${i + 1} of 3 was refused to the client declaring 3`);
      held.push(permit);
    }
    if (caps.mismatch === 'stored') {
      await expectRejection(
        narrow!.semaphore(name, { permits: 2 }).tryAcquire(),
        InvalidArgumentError,
        'tryAcquire declaring 2 permits of a semaphore in use with 3',
      );
      for (const permit of held) await permit.release();
      ctx.log("rule 'stored': a client declaring 2 permits of a semaphore in use with 3 is refused");
      return;
    }
    // 'smallest': the client declaring 2 gets a permit only once fewer than 2 are held, and while
    // it holds one, the client declaring 3 cannot bring the holders above 2.
    await held.pop()!.release();
    const whileTwo = await narrow!.semaphore(name, { permits: 2 }).tryAcquire();
    if (whileTwo) await whileTwo.release();
    check(whileTwo === null, 'the client declaring 2 permits got one while 2 were held');
    await held.pop()!.release();
    const narrowPermit = await narrow!.semaphore(name, { permits: 2 }).tryAcquire();
    check(narrowPermit !== null, 'the client declaring 2 permits got none while only 1 was held');
    const third = await wide!.semaphore(name, { permits: 3 }).tryAcquire();
    if (third) await third.release();
    check(third === null, 'with a holder that declared 2, the client declaring 3 brought the holders to 3');
    await narrowPermit.release();
    for (const permit of held) await permit.release();
    ctx.log("rule 'smallest': the holders never exceeded the smallest count declared (2)");
  },
};

/** Every semaphore test, in the order of the suite's table. */
export const SEMAPHORE_TESTS: readonly ConformanceTest[] = [
  semaphoreLimit,
  semaphoreTry,
  semaphoreHandoff,
  semaphoreExpiry,
  semaphoreProcessKill,
  semaphoreFencing,
  semaphoreMismatch,
];
