/**
 * Redlock arithmetic: quorum size, clock drift, lease validity, and collecting parallel
 * per-instance replies that settles as soon as the outcome is certain (so one paused
 * instance never holds up a decision its peers already made).
 * @module
 */

/** floor(N/2) + 1. */
export function quorumOf(instances: number): number {
  return Math.floor(instances / 2) + 1;
}

/** Allowed clock drift for a lease: `driftFactor·ttl` plus 2 ms of Redis expiry precision. */
export function driftMs(ttlMs: number, driftFactor: number): number {
  return Math.ceil(driftFactor * ttlMs) + 2;
}

/** How a quorum round ended. */
export type QuorumDecision = 'yes' | 'no' | 'unreachable';

/** Replies seen when the round was decided (later replies are not waited for). */
export interface QuorumRound<T> {
  readonly decision: QuorumDecision;
  readonly yes: T[];
  readonly no: T[];
  readonly errors: unknown[];
  /** Instances that had not answered yet. */
  readonly pending: number;
}

/**
 * Settles when `yes` reaches `quorum` (`yes`), when so many instances failed that a quorum
 * of answers is impossible (`unreachable`), or when the remaining instances could no
 * longer make a quorum of `yes` (`no`). Replies arriving later are ignored; their
 * rejections are swallowed.
 */
export function collectQuorum<T>(
  replies: ReadonlyArray<Promise<T>>,
  quorum: number,
  isYes: (reply: T) => boolean,
): Promise<QuorumRound<T>> {
  const total = replies.length;
  return new Promise((resolve) => {
    const yes: T[] = [];
    const no: T[] = [];
    const errors: unknown[] = [];
    let settled = false;
    const decide = () => {
      if (settled) return;
      const pending = total - yes.length - no.length - errors.length;
      let decision: QuorumDecision | undefined;
      if (yes.length >= quorum) decision = 'yes';
      else if (errors.length > total - quorum) decision = 'unreachable';
      else if (yes.length + pending < quorum) decision = 'no';
      if (!decision) return;
      settled = true;
      resolve({ decision, yes: [...yes], no: [...no], errors: [...errors], pending });
    };
    for (const reply of replies) {
      reply.then(
        (value) => {
          (isYes(value) ? yes : no).push(value);
          decide();
        },
        (error: unknown) => {
          errors.push(error);
          decide();
        },
      );
    }
    if (total === 0) decide();
  });
}

/**
 * After a refused attempt: in how many ms could a quorum of instances be free? Instances
 * that refused report their holder's PTTL; instances that failed count as not free.
 * `undefined` when there is no useful bound (core's fallback re-check applies).
 */
export function quorumFreeInMs(
  refusedPttls: readonly number[],
  instances: number,
  failed: number,
  quorum: number,
): number | undefined {
  const freeNow = instances - refusedPttls.length - failed;
  const stillNeeded = quorum - freeNow;
  if (stillNeeded <= 0) return undefined;
  const expiring = refusedPttls.filter((ms) => ms >= 0).sort((a, b) => a - b);
  return expiring[stillNeeded - 1];
}
