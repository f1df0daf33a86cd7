/**
 * Waits that end without a grant — by `waitMs` or by an AbortSignal — must end on time and
 * leave nothing behind: no queue entry, no orphaned grant.
 * @module
 */
import { type Coordinator, LockTimeoutError } from '@lockstep/core';
import { check, expectRejection, settle } from './assert.js';
import { fmt } from './timing.js';
import type { ConformanceTest, TestContext } from './types.js';

const WAIT_MS = 400;
/** How late a timed-out or aborted wait may settle on a loaded machine. */
const LATE_BOUND_MS = 2_000;

/**
 * Residue check: once the holder released, a third client's `tryAcquire` must succeed at
 * once. A queue entry or a grant left behind by an ended wait would make it fail.
 */
async function expectFreeAfterRelease(
  ctx: TestContext,
  name: string,
  client: Coordinator,
  what: string,
): Promise<void> {
  const handle = await client.lock(name).tryAcquire();
  check(handle !== null, `${what} left residue: the lock was not free after its holder released`);
  await handle.release();
  ctx.log(`${what}: no residue`);
}

export const lockWaitTimeout: ConformanceTest = {
  id: 'lock.wait-timeout',
  title: '`waitMs` rejects with `LockTimeoutError` on time and leaves no residue',
  async run(ctx) {
    const [holderClient, waiter, third] = await ctx.clients(3);
    const name = ctx.name('timeout');
    const held = await holderClient!.lock(name).acquire({ waitMs: 30_000 });

    const timedOut = await expectRejection(
      () => waiter!.lock(name).acquire({ waitMs: WAIT_MS }),
      LockTimeoutError,
      `acquire({ waitMs: ${WAIT_MS} }) on a held lock`,
    );
    ctx.log(`waitMs ${WAIT_MS} rejected after ${fmt(timedOut.ms)}`);
    check(
      timedOut.ms >= WAIT_MS * 0.95,
      `acquire({ waitMs: ${WAIT_MS} }) gave up early, after ${fmt(timedOut.ms)}`,
    );
    check(
      timedOut.ms <= WAIT_MS + LATE_BOUND_MS,
      `acquire({ waitMs: ${WAIT_MS} }) rejected late, after ${fmt(timedOut.ms)}`,
    );

    const single = await expectRejection(
      () => waiter!.lock(name).acquire({ waitMs: 0 }),
      LockTimeoutError,
      'acquire({ waitMs: 0 }) on a held lock',
    );
    check(
      single.ms <= LATE_BOUND_MS,
      `acquire({ waitMs: 0 }) took ${fmt(single.ms)}: it must be one attempt`,
    );

    check(await held.release(), 'release() of a held lock returned false');
    await expectFreeAfterRelease(ctx, name, third!, 'a timed-out wait');

    // Timeouts racing a release: the wait may win or time out, but a grant that loses the
    // race must be given back.
    let grants = 0;
    for (let round = 0; round < 4; round++) {
      const holder = await holderClient!.lock(name).acquire({ waitMs: 30_000 });
      const racing = settle(waiter!.lock(name).acquire({ waitMs: 60 }));
      await ctx.sleep(50 + round * 5);
      await holder.release();
      const outcome = await racing;
      if (outcome.ok) {
        grants++;
        await outcome.value.release();
      } else {
        check(
          outcome.error instanceof LockTimeoutError,
          `a racing wait rejected with ${String(outcome.error)}`,
        );
      }
    }
    ctx.log(`timeout racing release: ${grants}/4 granted, the rest timed out`);
    await expectFreeAfterRelease(ctx, name, third!, 'timeouts racing releases');
  },
};

export const lockAbort: ConformanceTest = {
  id: 'lock.abort',
  title: 'an aborted wait rejects with the reason and leaves no residue',
  async run(ctx) {
    const [holderClient, waiter, third] = await ctx.clients(3);
    const name = ctx.name('abort');
    const held = await holderClient!.lock(name).acquire({ waitMs: 30_000 });

    const early = new AbortController();
    const earlyReason = new Error('aborted before the call');
    early.abort(earlyReason);
    const pre = await expectRejection(
      () => waiter!.lock(name).acquire({ signal: early.signal }),
      (error) => error === earlyReason,
      'acquire() with an already aborted signal',
    );
    check(pre.ms <= LATE_BOUND_MS, `an already aborted signal took ${fmt(pre.ms)} to reject`);

    const controller = new AbortController();
    const reason = new Error('conformance: stop waiting');
    const waiting = settle(waiter!.lock(name).acquire({ signal: controller.signal }));
    await ctx.sleep(150);
    const abortedAt = performance.now();
    controller.abort(reason);
    const outcome = await waiting;
    const lateness = performance.now() - abortedAt;
    if (outcome.ok) await outcome.value.release();
    check(!outcome.ok, 'a wait on a held lock was granted instead of aborted');
    check(
      outcome.error === reason,
      `the wait rejected with ${String(outcome.error)}, not the signal's reason`,
    );
    check(lateness <= LATE_BOUND_MS, `the wait rejected ${fmt(lateness)} after the abort`);
    ctx.log(`abort → rejection in ${fmt(lateness)}`);

    // Aborts landing during the first attempt's round trip, not only while parked.
    for (const afterMs of [0, 1, 3, 8]) {
      const racingController = new AbortController();
      const racing = settle(waiter!.lock(name).acquire({ signal: racingController.signal }));
      if (afterMs === 0) queueMicrotask(() => racingController.abort(reason));
      else setTimeout(() => racingController.abort(reason), afterMs);
      const result = await racing;
      if (result.ok) await result.value.release();
      check(
        !result.ok && result.error === reason,
        `an abort ${afterMs} ms into the wait did not reject with its reason`,
      );
    }

    check(await held.release(), 'release() of a held lock returned false');
    await expectFreeAfterRelease(ctx, name, third!, 'aborted waits');
  },
};
