/**
 * Holders that are real processes, killed or frozen by the parent: the lock must come back
 * after the lease, with a larger token, and a frozen holder must learn of its loss as soon
 * as it runs again.
 * @module
 */
import type { Capabilities } from '@lockstep/core';
import { type ChildClient, spawnChild } from '../child/spawn.js';
import { type ConformanceTarget, isInProcess, schemeOf } from '../target.js';
import { check, checkEqual } from './assert.js';
import { fmt, lossBoundMs } from './timing.js';
import type { ConformanceTest, TestContext } from './types.js';

/** Starting Node (and tsx, from sources) on a loaded machine can take a while. */
const CHILD_START_MS = 30_000;
/** How soon a resumed holder must see its loss: its overdue timers run at once. */
const RESUME_LOSS_BOUND_MS = 2_000;

function requireProcesses(_caps: Capabilities, target: ConformanceTarget): string | undefined {
  return isInProcess(target)
    ? `${schemeOf(target.url)}:// keeps its state inside one process: another process cannot hold its locks`
    : undefined;
}

function startHolder(ctx: TestContext, name: string): ChildClient {
  const child = spawnChild({
    mode: 'hold',
    url: ctx.target.url,
    adapterModule: ctx.target.adapterModule,
    names: [name],
    ttlMs: ctx.ttlMs,
  });
  ctx.defer(() => child.dispose());
  return child;
}

export const lockProcessKill: ConformanceTest = {
  id: 'lock.process-kill',
  title: 'a SIGKILLed holder process: the lock is free after its lease',
  requires: requireProcesses,
  timeoutMs: 90_000,
  async run(ctx) {
    const [parent] = await ctx.clients(1);
    const name = ctx.name('process-kill');
    const child = startHolder(ctx, name);
    const acquired = await child.next('acquired', CHILD_START_MS);

    const intruder = await parent!.lock(name).tryAcquire();
    if (intruder) await intruder.release();
    check(intruder === null, 'the parent got a lock the child process reported holding');

    const killedAt = performance.now();
    child.signal('SIGKILL');
    await child.exited;
    const bound = lossBoundMs(ctx);
    const next = await parent!.lock(name).acquire({ waitMs: bound, signal: ctx.signal });
    const freedAfter = performance.now() - killedAt;
    const token = ctx.capabilities.lock.fencing === 'monotonic' ? next.fencingToken : undefined;
    await next.release();
    ctx.log(
      `lease ${ctx.ttlMs} ms: the lock of the killed holder was granted again ${fmt(freedAfter)} after SIGKILL`,
    );
    if (token !== undefined && acquired.token !== null) {
      check(
        token > BigInt(acquired.token),
        `token ${token} after the kill is not larger than the dead holder's ${acquired.token}`,
      );
    }
  },
};

export const lockProcessPause: ConformanceTest = {
  id: 'lock.process-pause',
  title:
    "a SIGSTOPped holder past its lease: the next holder gets a larger token; the old handle's signal aborts when it resumes",
  requires: requireProcesses,
  timeoutMs: 90_000,
  async run(ctx) {
    const [parent, observer] = await ctx.clients(2);
    const name = ctx.name('process-pause');
    const child = startHolder(ctx, name);
    const acquired = await child.next('acquired', CHILD_START_MS);

    child.signal('SIGSTOP');
    const stoppedAt = performance.now();
    const next = await parent!.lock(name).acquire({ waitMs: lossBoundMs(ctx), signal: ctx.signal });
    const grantedAfter = performance.now() - stoppedAt;
    check(
      grantedAfter >= ctx.ttlMs * 0.5,
      `the lock of a paused holder was granted ${fmt(grantedAfter)} after SIGSTOP, well inside its ${ctx.ttlMs} ms lease`,
    );
    if (ctx.capabilities.lock.fencing === 'monotonic' && acquired.token !== null) {
      check(
        next.fencingToken > BigInt(acquired.token),
        `the next holder's token ${next.fencingToken} is not larger than the paused holder's ${acquired.token}`,
      );
    }

    const resumedAt = Date.now();
    child.signal('SIGCONT');
    const lost = await child.next('lost', RESUME_LOSS_BOUND_MS + 3_000);
    const lossAfterResume = lost.at - resumedAt;
    const released = await child.next('released', 10_000);
    ctx.log(
      `paused holder: next grant ${fmt(grantedAfter)} after SIGSTOP; after SIGCONT its signal aborted in ${fmt(lossAfterResume)} (${lost.code})`,
    );
    checkEqual(lost.code, 'LOCK_LOST', "the resumed holder's signal reason code");
    check(
      lossAfterResume <= RESUME_LOSS_BOUND_MS,
      `the resumed holder learned of its loss ${fmt(lossAfterResume)} after SIGCONT (bound ${RESUME_LOSS_BOUND_MS} ms)`,
    );
    checkEqual(released.result, false, "the resumed holder's release() (the lock is someone else's)");

    checkEqual(
      await next.isHeld(),
      true,
      "the new holder's isHeld() after the old holder resumed and released",
    );
    const intruder = await observer!.lock(name).tryAcquire();
    if (intruder) await intruder.release();
    check(intruder === null, "the resumed holder's release freed the new holder's lock");
    await next.release();
    child.send('exit');
  },
};
