/**
 * Contention on one name: exclusivity under load, `tryAcquire`, and handoff to a waiter.
 * @module
 */
import type { Coordinator } from '@lockstep/core';
import { MutexMonitor } from '../checkers/mutex.js';
import { check, checkEqual, settle, within } from './assert.js';
import { tokenOf } from './support.js';
import { fmt, median } from './timing.js';
import type { ConformanceTest, TestContext } from './types.js';

/** Clients and cycles of lock.exclusive: 4 × 25 = 100 grants, half of them contended waits. */
const EXCLUSIVE_CLIENTS = 4;
const EXCLUSIVE_CYCLES = 25;
/** A tryAcquire that answers slower than this was waiting for the holder, not answering. */
const TRY_BOUND_MS = 2_000;

export const lockExclusive: ConformanceTest = {
  id: 'lock.exclusive',
  title: 'N clients (own connections) x M cycles on one name: never two holders',
  async run(ctx) {
    const clients = await ctx.clients(EXCLUSIVE_CLIENTS);
    const name = ctx.name('exclusive');
    const monitor = new MutexMonitor();
    let refusedReleases = 0;
    await Promise.all(
      clients.map(async (client, index) => {
        const id = `client-${index}`;
        const lock = client.lock(name);
        for (let cycle = 0; cycle < EXCLUSIVE_CYCLES; cycle++) {
          // Alternate the two ways in, so both the one-shot and the waiting path are checked.
          const handle =
            (cycle % 2 === 0 ? await lock.tryAcquire() : null) ??
            (await lock.acquire({ waitMs: 30_000, signal: ctx.signal }));
          monitor.enter(id, tokenOf(handle, ctx.capabilities));
          // Hold across a timer turn (0–2 ms) so other clients' requests really interleave.
          await new Promise((resolve) => setTimeout(resolve, cycle % 3));
          monitor.exit(id);
          if (!(await handle.release())) refusedReleases++;
        }
      }),
    );
    const result = monitor.result();
    ctx.log(`${result.grants} grants, at most ${result.maxConcurrent} holder(s) at once`);
    const overlap = result.overlaps[0];
    check(
      result.overlapCount === 0 && monitor.violationCount === 0,
      `two holders at once (${result.overlapCount} overlapping holds, max ${result.maxConcurrent} concurrent)` +
        (overlap ? `: ${overlap[0].client} and ${overlap[1].client}` : ''),
    );
    const badToken = result.tokenViolations[0];
    check(
      result.tokenViolations.length === 0,
      `fencing tokens did not increase in grant order` +
        (badToken ? `: ${badToken.earlier.fencingToken} then ${badToken.later.fencingToken}` : ''),
    );
    checkEqual(result.grants, EXCLUSIVE_CLIENTS * EXCLUSIVE_CYCLES, 'number of grants');
    checkEqual(refusedReleases, 0, 'release() calls that returned false for a lock the caller held');
  },
};

export const lockTry: ConformanceTest = {
  id: 'lock.try',
  title: '`tryAcquire` returns `null` at once when held',
  async run(ctx) {
    const [holderClient, other] = await ctx.clients(2);
    const name = ctx.name('try');
    const held = await holderClient!.lock(name).tryAcquire();
    check(held !== null, 'tryAcquire on a free lock returned null');

    const latencies: number[] = [];
    for (const [who, client] of [
      ['another client', other!],
      ["the holder's own client (locks are not reentrant)", holderClient!],
    ] as const) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const outcome = await settle(
          within(client.lock(name).tryAcquire(), TRY_BOUND_MS, `tryAcquire from ${who}`),
        );
        if (!outcome.ok) throw outcome.error;
        if (outcome.value !== null) await outcome.value.release();
        check(outcome.value === null, `tryAcquire from ${who} got a lock that was held`);
        latencies.push(outcome.ms);
      }
    }
    ctx.log(
      `tryAcquire on a held lock answered null in ${fmt(median(latencies))} (median of ${latencies.length})`,
    );
    check(!held.signal.aborted, "the holder's signal aborted because others tried");
    check(await held.release(), 'the holder could not release after failed tries');

    const after = await within(other!.lock(name).tryAcquire(), TRY_BOUND_MS, 'tryAcquire after release');
    check(after !== null, 'tryAcquire returned null right after the holder released');
    await after.release();
  },
};

/** Handoffs measured per run. */
const HANDOFF_ROUNDS = 8;

export const lockHandoff: ConformanceTest = {
  id: 'lock.handoff',
  title: 'a waiting `acquire` is granted within a small bound after release (no long polls)',
  async run(ctx) {
    const [first, second, third, fourth] = await ctx.clients(4);
    const name = ctx.name('handoff');
    const notify = ctx.capabilities.lock.waiting === 'notify';
    // Core's fallback re-check for watched waits starts at 250 ms (±20%) and doubles: a
    // backend whose notifications do not arrive hands off at that re-check instead. A
    // median well under it proves the notification path; polling backends get a bound that
    // still rules out long polls.
    const medianBound = notify ? 100 : 600;
    const maxBound = notify ? 1_000 : 2_000;

    let holder = await first!.lock(name).acquire({ waitMs: 30_000 });
    let clients = [first!, second!];
    const latencies: number[] = [];
    for (let round = 0; round < HANDOFF_ROUNDS; round++) {
      const waiterClient = clients[1]!;
      let grantedEarly = false;
      const waiting = waiterClient.lock(name).acquire({ waitMs: 30_000, signal: ctx.signal });
      void waiting.then(
        () => {
          grantedEarly = true;
        },
        () => {},
      );
      // No event says "the waiter is parked"; wait past its first fallback re-check
      // (≤ 300 ms) so a grant can only come from a notification or the next re-check (≥ 600 ms).
      await ctx.sleep(320 + 15 * round);
      check(!grantedEarly, 'a waiter was granted the lock while another client held it');
      const releasedAt = performance.now();
      check(await holder.release(), 'release() of a held lock returned false');
      holder = await waiting;
      latencies.push(performance.now() - releasedAt);
      clients = [clients[1]!, clients[0]!];
    }
    await holder.release();
    const mid = median(latencies);
    const worst = Math.max(...latencies);
    ctx.log(`release → grant: median ${fmt(mid)}, max ${fmt(worst)} over ${latencies.length} handoffs`);
    check(
      mid <= medianBound,
      `median handoff ${fmt(mid)} exceeds ${medianBound} ms for waiting: '${ctx.capabilities.lock.waiting}'` +
        (notify ? ' (release notifications are not reaching waiters)' : ''),
    );
    check(worst <= maxBound, `a handoff took ${fmt(worst)} (bound ${maxBound} ms)`);

    if (ctx.capabilities.lock.fairness === 'fifo') {
      await checkFifo(ctx, name, [first!, second!, third!, fourth!]);
    } else {
      ctx.log("fairness: 'none' declared; arrival order not checked");
    }
  },
};

/** Waiters of the FIFO check, spread round-robin over the clients. */
const FIFO_WAITERS = 16;
/** Time between two arrivals: long enough for a waiter to be queued before the next comes. */
const FIFO_SPACING_MS = 75;

/**
 * With `fairness: 'fifo'` declared, waiters must be granted in arrival order — across
 * coordinators, not only within one: a coordinator-local queue in front of a backend that is
 * not FIFO would pass a single-client check.
 */
async function checkFifo(ctx: TestContext, name: string, clients: readonly Coordinator[]): Promise<void> {
  const holder = await clients[0]!.lock(name).acquire({ waitMs: 30_000 });
  const order: number[] = [];
  const waiters: Array<Promise<void>> = [];
  // Round-robin from the second client on, so consecutive arrivals come from different clients.
  const arrivals = Array.from({ length: FIFO_WAITERS }, (_, i) => i);
  for (const arrival of arrivals) {
    const client = clients[(arrival + 1) % clients.length]!;
    const waiting = client.lock(name).acquire({ waitMs: 60_000, signal: ctx.signal });
    // Each grant releases at once, so a wrong order shows up instead of deadlocking the test.
    waiters.push(
      waiting.then(async (handle) => {
        order.push(arrival);
        await handle.release();
      }),
    );
    await ctx.sleep(FIFO_SPACING_MS);
  }
  await holder.release();
  await Promise.all(waiters);
  const outOfOrder = order.filter((arrival, i) => arrival !== i).length;
  check(
    outOfOrder === 0,
    `with fairness: 'fifo' declared, ${outOfOrder} of ${FIFO_WAITERS} waiters over ${clients.length} clients ` +
      `were granted out of arrival order (grant order ${order.join(',')})`,
  );
  ctx.log(`fifo: ${FIFO_WAITERS} waiters over ${clients.length} clients granted in arrival order`);
}
