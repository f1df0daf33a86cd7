/**
 * Holds recorded by contender processes, and the checks run over them. Instants come from the
 * host's monotonic clock, which every process shares, so holds of different processes compare.
 * @module
 */
import type { Contender } from './children.js';

/** A recorded grant: `acquiredAt` after its grant, `releasedAt` before its release, so inside the real hold. */
export interface Hold {
  /** Which contender held it (its index in the list given to {@link holdsOf}). */
  readonly contender: number;
  readonly requestedAt: number;
  readonly acquiredAt: number;
  readonly releasedAt: number;
  readonly token: bigint;
}

/** Every grant the contenders reported, each paired with the release of the same token. */
export function holdsOf(contenders: readonly Contender[]): Hold[] {
  return contenders.flatMap((c, contender) => {
    const released = new Map(
      c.events.filter((e) => e.event === 'releasing').map((e) => [e.token!, e.at!] as const),
    );
    return c.events
      .filter((e) => e.event === 'acquired')
      .map((e) => ({
        contender,
        requestedAt: e.requestedAt!,
        acquiredAt: e.at!,
        releasedAt: released.get(e.token!)!,
        token: BigInt(e.token!),
      }));
  });
}

/** Whether two holds shared a moment (a release and a grant at one instant do not). */
export function overlap(a: Hold, b: Hold): boolean {
  return a.acquiredAt < b.releasedAt && b.acquiredAt < a.releasedAt;
}

/** The most recorded holds that shared one moment. */
export function mostAtOnce(holds: readonly Hold[]): number {
  const edges = holds
    .flatMap((h) => [
      { at: h.acquiredAt, step: 1 },
      { at: h.releasedAt, step: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.step - b.step);
  let inside = 0;
  let most = 0;
  for (const edge of edges) {
    inside += edge.step;
    most = Math.max(most, inside);
  }
  return most;
}

/** Pairs where a grant certainly after another (requested after its grant) has a token not larger. */
export function tokenInversions(holds: readonly Hold[]): Array<[Hold, Hold]> {
  return holds.flatMap((earlier) =>
    holds
      .filter((later) => later.requestedAt > earlier.acquiredAt && later.token <= earlier.token)
      .map((later): [Hold, Hold] => [earlier, later]),
  );
}
