/**
 * `lock.handoff` / `lock.fairness` and `semaphore.handoff` / `semaphore.fairness`:
 * contenders with their own connections loop acquire → hold 2 ms → release on one lock (or
 * one semaphore of K permits). For EVERY release, the handoff is the time from the moment
 * the holder starts releasing to the moment a contender that was WAITING for it is granted:
 * one whose acquire began before that release and before the K − 1 releases just ahead of
 * it. So when a releaser takes the lock straight back, the waiters' wait keeps counting; and
 * on a semaphore, holders that trade permits between themselves (one releases, asks again,
 * and gets the permit another holder frees a moment later) are not taken for handoffs.
 * Counting those would hide exactly the starvation this metric exists to show: with polling
 * peers the holders win almost every race and the rare handovers look fast. Releases still
 * unserved when the window closes are not counted.
 *
 * Fairness is the share of grants that went to such a waiter of the latest release (1 = every
 * freed lock or permit went to a contender that was waiting for it). For a lock (K = 1) this
 * is the share of grants to a different contender than the previous holder.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Contender } from '@lockstep/conformance/profile';
import { type LatencyFigure, LatencyRecorder, type RatioFigure, ratioFigure } from '../stats.js';
import { DEFAULT_TIME_BOX, type TimeBox } from './measure.js';

/** Contenders of the handoff benchmark. */
export const HANDOFF_CONTENDERS = 8;
/** How long each grant is held. */
export const HANDOFF_HOLD_MS = 2;

/** One release: who released, and when it began. */
interface Release {
  readonly owner: number;
  readonly releasingAt: number;
  /** Its place among all releases of the run. */
  readonly index: number;
}

/** Result of {@link measureHandoff}. */
export interface HandoffFigures {
  /** Release → grant of a different contender. */
  readonly handoff: LatencyFigure;
  /** Share of grants (after the first release) that went to a contender waiting at the latest release. */
  readonly fairness: RatioFigure;
  /** Grants counted in the timed window. */
  readonly grants: number;
}

/**
 * Runs the contenders (on a lock, or a semaphore of `permits`) for the time box (grants during
 * warm-up are not counted) and stops them: each finishes its current cycle, so every lock is released before this resolves.
 * Contenders are not closed here.
 * @throws Error when the window saw no handoff at all (one contender starved the rest).
 */
export async function measureHandoff(
  contenders: readonly Contender[],
  box: TimeBox = { ...DEFAULT_TIME_BOX, durationMs: 2_000 },
  permits = 1,
): Promise<HandoffFigures> {
  const recorder = new LatencyRecorder();
  const warmupEnd = performance.now() + box.warmupMs;
  const end = warmupEnd + box.durationMs;
  // When each contender's current acquire began (undefined while it holds).
  const waitingSince: Array<number | undefined> = contenders.map(() => undefined);
  // Every release so far, in order: a waiter of release i was waiting since releases[i - K + 1].
  const releases: Release[] = [];
  // Releases not yet followed by a grant to a contender that was waiting for them.
  let unserved: Release[] = [];
  let grants = 0;
  let toWaiters = 0;
  let failure: unknown;
  const waitedFor = (release: Release, owner: number, since: number) =>
    release.owner !== owner && since <= (releases[release.index - permits + 1]?.releasingAt ?? -Infinity);

  const loop = async (contender: Contender, owner: number) => {
    while (performance.now() < end && failure === undefined) {
      const since = performance.now();
      waitingSince[owner] = since;
      try {
        await contender.acquire();
      } catch (error) {
        failure ??= error;
        return;
      }
      waitingSince[owner] = undefined;
      const grantedAt = performance.now();
      const served = (release: Release) => waitedFor(release, owner, since);
      const latest = releases.at(-1);
      if (grantedAt >= warmupEnd && grantedAt < end && latest !== undefined) {
        grants++;
        if (served(latest)) toWaiters++;
        for (const release of unserved) if (served(release)) recorder.record(grantedAt - release.releasingAt);
      }
      unserved = unserved.filter((release) => !served(release));
      await sleep(HANDOFF_HOLD_MS);
      const release = { owner, releasingAt: performance.now(), index: releases.length };
      releases.push(release);
      // A release nobody waits for (every other contender holds) has no handoff to time.
      const someoneWaits = waitingSince.some((at, i) => i !== owner && at !== undefined);
      if (release.releasingAt >= warmupEnd && someoneWaits) unserved.push(release);
      await contender.release();
    }
  };
  await Promise.all(contenders.map(loop));
  if (failure !== undefined) throw failure;
  if (recorder.count === 0) throw new Error(`no handoff between contenders in ${grants} grants`);
  return { handoff: recorder.figure(), fairness: ratioFigure(toWaiters / grants), grants };
}
