/**
 * What the interop scenarios share: the smallest session TTL a target's server accepts, and
 * the contention run — two lockstep clients and two clients of the Go recipe's transcription
 * taking turns through one critical section.
 * @module
 */
import { type CriticalSection, check, checkEqual, strictlyIncreasing } from '@lockstep/conformance/interop';
import type { LockHandle } from '@lockstep/core';

/** The smallest session TTL the server accepts: the URL's `sessionTtlMinMs`, else Consul's 10 s. */
export function minTtlOf(url: string): number {
  const given = new URL(url).searchParams.get('sessionTtlMinMs');
  return given === null ? 10_000 : Number(given);
}

/** One side's contenders: how each takes its turn, and its name in failure messages. */
export interface ContentionSides {
  /** One acquire per lockstep client (each with its own coordinator). */
  readonly lockstep: ReadonlyArray<() => Promise<LockHandle>>;
  /** A Go-recipe client's turn: resolves once it holds, with the call that lets go. */
  readonly peer: () => Promise<() => Promise<void>>;
  readonly peerName: string;
}

/**
 * Both lockstep clients and two peer clients loop through `section` (held `holdMs`) until both
 * sides have had several grants and at least `minMs` passed, or 15 s on a loaded machine; then
 * requires no entry into a full section, progress on both sides, and lockstep's tokens
 * increasing in grant order.
 */
export async function contendBothSides(
  section: CriticalSection,
  sides: ContentionSides,
  holdMs: number,
  minMs: number,
): Promise<void> {
  const grants = { lockstep: 0, peer: 0 };
  const tokens: bigint[] = [];
  const started = performance.now();
  const enough = () => performance.now() - started >= minMs && grants.lockstep > 3 && grants.peer > 3;
  const running = () => !enough() && performance.now() - started < 15_000;
  const lockstepWorker = async (acquire: () => Promise<LockHandle>) => {
    while (running()) {
      const held = await acquire();
      tokens.push(held.fencingToken);
      await section.visit(holdMs);
      grants.lockstep++;
      await held.release();
    }
  };
  const peerWorker = async () => {
    while (running()) {
      const letGo = await sides.peer();
      await section.visit(holdMs);
      grants.peer++;
      await letGo();
    }
  };
  await Promise.all([...sides.lockstep.map(lockstepWorker), peerWorker(), peerWorker()]);
  checkEqual(section.overlaps, 0, `entries that found all ${section.capacity} places taken`);
  const ms = Math.round(performance.now() - started);
  check(grants.lockstep > 3, `only ${grants.lockstep} lockstep grants in ${ms} ms`);
  check(grants.peer > 3, `only ${grants.peer} ${sides.peerName} grants in ${ms} ms`);
  check(strictlyIncreasing(tokens), `lockstep's tokens not strictly increasing: ${tokens.join(', ')}`);
}
