/**
 * `lock.handoff` and `lock.fairness`: contenders with their own connections loop
 * acquire → hold 2 ms → release on one name. For EVERY release, the handoff is the time from
 * the moment the holder starts releasing to the moment a DIFFERENT contender's acquire
 * resolves — even when the releaser takes the lock straight back in between (then the
 * waiters' wait keeps counting). Counting only the grants where the lock changed hands
 * would hide exactly the starvation this metric exists to show: with polling peers the
 * releaser wins almost every race and the rare handovers look fast. Releases still unserved
 * when the window closes are not counted. The share of grants that went to a different
 * contender than the previous holder is the fairness ratio (1 = perfect rotation).
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

/** Result of {@link measureHandoff}. */
export interface HandoffFigures {
  /** Release → grant of a different contender. */
  readonly handoff: LatencyFigure;
  /** Share of grants (after the first) that went to a different contender than the previous one. */
  readonly fairness: RatioFigure;
  /** Grants counted in the timed window. */
  readonly grants: number;
}

/**
 * Runs the contenders for the time box (grants during warm-up are not counted) and stops
 * them: each finishes its current cycle, so every lock is released before this resolves.
 * Contenders are not closed here.
 * @throws Error when the window saw no handoff at all (one contender starved the rest).
 */
export async function measureHandoff(
  contenders: readonly Contender[],
  box: TimeBox = { ...DEFAULT_TIME_BOX, durationMs: 2_000 },
): Promise<HandoffFigures> {
  const recorder = new LatencyRecorder();
  const warmupEnd = performance.now() + box.warmupMs;
  const end = warmupEnd + box.durationMs;
  let previous: { owner: number; releasingAt: number } | undefined;
  // Releases not yet followed by a grant to another contender.
  let unserved: Array<{ owner: number; releasingAt: number }> = [];
  let grants = 0;
  let rotations = 0;
  let failure: unknown;

  const loop = async (contender: Contender, owner: number) => {
    while (performance.now() < end && failure === undefined) {
      try {
        await contender.acquire();
      } catch (error) {
        failure ??= error;
        return;
      }
      const grantedAt = performance.now();
      if (grantedAt >= warmupEnd && grantedAt < end && previous !== undefined) {
        grants++;
        if (previous.owner !== owner) rotations++;
        for (const release of unserved) {
          if (release.owner !== owner) recorder.record(grantedAt - release.releasingAt);
        }
      }
      unserved = unserved.filter((release) => release.owner === owner);
      await sleep(HANDOFF_HOLD_MS);
      previous = { owner, releasingAt: performance.now() };
      if (previous.releasingAt >= warmupEnd) unserved.push(previous);
      await contender.release();
    }
  };
  await Promise.all(contenders.map(loop));
  if (failure !== undefined) throw failure;
  if (recorder.count === 0) throw new Error(`no handoff between contenders in ${grants} grants`);
  return { handoff: recorder.figure(), fairness: ratioFigure(rotations / grants), grants };
}
