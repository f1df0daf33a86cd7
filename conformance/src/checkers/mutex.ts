/**
 * Mutual exclusion, checked two ways: offline over recorded hold intervals
 * ({@link checkMutex}) and online while a test runs ({@link MutexMonitor}).
 *
 * Both rely on one property of how the suite records holds: `acquiredAt` is taken *after*
 * `acquire()` resolved and `releasedAt` *before* `release()` is called, on one process's
 * monotonic clock. A recorded interval therefore lies inside the real hold, so any two
 * recorded intervals that share a moment prove two real holders at that moment: the
 * checker has no false alarms. (It can miss a violation shorter than the recording gap;
 * that is the price of having no false alarms.)
 * @module
 */
import { InvalidHistoryError } from './errors.js';

/** One recorded hold of a lock by one client. Times are milliseconds on one monotonic clock. */
export interface HoldInterval {
  /** Who held it: any stable id (connection, worker, process). */
  readonly client: string;
  /** When `acquire()` had resolved (`performance.now()`). */
  readonly acquiredAt: number;
  /** When `release()` was about to be called. Must be ≥ `acquiredAt`. */
  readonly releasedAt: number;
  /** The handle's fencing token, when the backend gives them. */
  readonly fencingToken?: bigint;
}

/** A fencing token that failed to exceed every token granted before it. */
export interface TokenViolation {
  /** `equal`: the same token granted twice; `decreasing`: smaller than an earlier one. */
  readonly kind: 'equal' | 'decreasing';
  /** The earlier grant carrying the highest token seen before `later`. */
  readonly earlier: HoldInterval;
  /** The grant whose token is not larger. */
  readonly later: HoldInterval;
}

/** Verdict of {@link checkMutex}. */
export interface MutexCheckResult {
  /** `true` when no two holds overlap and every present token increased. */
  readonly ok: boolean;
  /** Overlapping pairs `[earlier, later]` in grant order (at most `maxReported`). */
  readonly overlaps: Array<readonly [HoldInterval, HoldInterval]>;
  /** How many overlapping pairs there were in all, reported or not. */
  readonly overlapCount: number;
  /** Tokens that did not increase, in grant order (at most `maxReported`). */
  readonly tokenViolations: TokenViolation[];
  /** The most holds that shared one moment (1 for a correct lock that was used, 0 for none). */
  readonly maxConcurrent: number;
  /** Number of holds checked. */
  readonly grants: number;
}

/** Options of {@link checkMutex}. */
export interface MutexCheckOptions {
  /** Cap on the overlaps and token violations listed (all are still counted). Default 100. */
  readonly maxReported?: number;
}

/**
 * Checks recorded holds of one lock name for mutual exclusion and fencing-token order.
 *
 * - Two holds overlap when `a.acquiredAt < b.releasedAt && b.acquiredAt < a.releasedAt`.
 *   Touching holds (one released at the very timestamp the next was acquired) are fine: the
 *   clock cannot order them, and a correct lock produces them at coarse clock resolution.
 * - Grant order is `acquiredAt` order; equal `acquiredAt` (already an overlap, or two
 *   instantaneous holds) is ordered by token so ties never invent a token violation.
 *   In that order every present token must be larger than every earlier one. Holds
 *   without a token are skipped by the token rule (backends with `fencing: 'none'`).
 *
 * Runs in O(n log n + n·k) for n holds with at most k simultaneous holders.
 * @throws InvalidHistoryError when a hold has a non-finite time, ends before it starts, or has no client.
 */
export function checkMutex(
  holds: readonly HoldInterval[],
  options: MutexCheckOptions = {},
): MutexCheckResult {
  const maxReported = options.maxReported ?? 100;
  holds.forEach(validateHold);
  const ordered = [...holds].sort(byGrantOrder);

  const overlaps: Array<readonly [HoldInterval, HoldInterval]> = [];
  let overlapCount = 0;
  let maxConcurrent = ordered.length > 0 ? 1 : 0;
  // Holds still running at the current grant; a correct history keeps this at most one long.
  let active: HoldInterval[] = [];
  for (const hold of ordered) {
    active = active.filter((other) => other.releasedAt > hold.acquiredAt);
    let concurrent = 1;
    for (const other of active) {
      if (!overlap(other, hold)) continue;
      concurrent++;
      overlapCount++;
      if (overlaps.length < maxReported) overlaps.push([other, hold]);
    }
    // All of `active` contain the moment `hold.acquiredAt`, so the overlapping ones and
    // `hold` pairwise overlap: `concurrent` is a real number of simultaneous holders.
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    active.push(hold);
  }

  const tokenViolations = findTokenViolations(ordered, maxReported);
  return {
    ok: overlapCount === 0 && tokenViolations.length === 0,
    overlaps,
    overlapCount,
    tokenViolations,
    maxConcurrent,
    grants: ordered.length,
  };
}

function findTokenViolations(ordered: readonly HoldInterval[], maxReported: number): TokenViolation[] {
  const violations: TokenViolation[] = [];
  let highest: HoldInterval | undefined;
  for (const hold of ordered) {
    if (hold.fencingToken === undefined) continue;
    if (highest?.fencingToken !== undefined && hold.fencingToken <= highest.fencingToken) {
      const kind = hold.fencingToken === highest.fencingToken ? 'equal' : 'decreasing';
      if (violations.length < maxReported) violations.push({ kind, earlier: highest, later: hold });
      continue;
    }
    highest = hold;
  }
  return violations;
}

function overlap(a: HoldInterval, b: HoldInterval): boolean {
  return a.acquiredAt < b.releasedAt && b.acquiredAt < a.releasedAt;
}

function byGrantOrder(a: HoldInterval, b: HoldInterval): number {
  if (a.acquiredAt !== b.acquiredAt) return a.acquiredAt - b.acquiredAt;
  if (a.fencingToken === undefined || b.fencingToken === undefined) return 0;
  return a.fencingToken < b.fencingToken ? -1 : a.fencingToken > b.fencingToken ? 1 : 0;
}

function validateHold(hold: HoldInterval, index: number): void {
  if (typeof hold?.client !== 'string' || hold.client === '') {
    throw new InvalidHistoryError('client must be a non-empty string', index);
  }
  if (!Number.isFinite(hold.acquiredAt) || !Number.isFinite(hold.releasedAt)) {
    throw new InvalidHistoryError('acquiredAt and releasedAt must be finite numbers', index);
  }
  if (hold.releasedAt < hold.acquiredAt) {
    throw new InvalidHistoryError(
      `released at ${hold.releasedAt} before acquired at ${hold.acquiredAt}`,
      index,
    );
  }
  if (hold.fencingToken !== undefined && typeof hold.fencingToken !== 'bigint') {
    throw new InvalidHistoryError('fencingToken must be a bigint when present', index);
  }
}

/** Something {@link MutexMonitor} saw go wrong, at the moment it happened. */
export interface MutexViolation {
  /**
   * `concurrent-holders`: `client` entered while others were inside.
   * `token-not-increasing`: its token was not larger than every token entered before.
   */
  readonly kind: 'concurrent-holders' | 'token-not-increasing';
  /** The client that entered. */
  readonly client: string;
  /** Clients already inside when it entered (for `concurrent-holders`). */
  readonly otherHolders: readonly string[];
  /** Its token, if it had one. */
  readonly fencingToken?: bigint;
  /** The highest token entered before it (for `token-not-increasing`). */
  readonly highestEarlierToken?: bigint;
  /** When it entered, on the monitor's clock. */
  readonly at: number;
}

/** Options of {@link MutexMonitor}. */
export interface MutexMonitorOptions {
  /** The clock; default `performance.now()`. Must be monotonic. */
  readonly now?: () => number;
  /** Called synchronously on each violation, e.g. to fail a test at once. */
  readonly onViolation?: (violation: MutexViolation) => void;
  /** Cap on the violations kept (all are still counted and passed to `onViolation`). Default 100. */
  readonly maxReported?: number;
}

/**
 * An in-process guard for a critical section, used while a test runs: every client calls
 * `enter(client, token)` right after `acquire()` resolves and `exit(client)` right before
 * `release()`. Because all clients share this one object (one event loop), a second holder
 * is noticed at the instant it enters, not after the run.
 *
 * It also records each completed hold, so {@link MutexMonitor.result} gives the same
 * verdict shape as {@link checkMutex}. Only holds inside this process are seen: for holders
 * in several processes, record intervals on one clock and use {@link checkMutex}.
 */
export class MutexMonitor {
  readonly #now: () => number;
  readonly #onViolation: ((violation: MutexViolation) => void) | undefined;
  readonly #maxReported: number;
  /** Open holds per client, oldest first (a client entering twice is two holders). */
  readonly #open = new Map<string, Array<{ acquiredAt: number; fencingToken?: bigint }>>();
  readonly #completed: HoldInterval[] = [];
  readonly #violations: MutexViolation[] = [];
  #inside = 0;
  #maxConcurrent = 0;
  #grants = 0;
  #violationCount = 0;
  #highestToken: bigint | undefined;

  constructor(options: MutexMonitorOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#onViolation = options.onViolation;
    this.#maxReported = options.maxReported ?? 100;
  }

  /**
   * Records that `client` now holds the lock (call right after `acquire()` resolves).
   * @returns `true` when it is alone inside and its token (if any) increased; `false` on a violation.
   * @throws InvalidHistoryError when `client` is empty or the token is not a bigint.
   */
  enter(client: string, fencingToken?: bigint): boolean {
    if (typeof client !== 'string' || client === '') {
      throw new InvalidHistoryError('client must be a non-empty string');
    }
    if (fencingToken !== undefined && typeof fencingToken !== 'bigint') {
      throw new InvalidHistoryError('fencingToken must be a bigint when present');
    }
    const at = this.#now();
    const found: MutexViolation[] = [];
    if (this.#inside > 0) {
      found.push({ kind: 'concurrent-holders', client, otherHolders: this.holders, fencingToken, at });
    }
    if (fencingToken !== undefined) {
      if (this.#highestToken !== undefined && fencingToken <= this.#highestToken) {
        found.push({
          kind: 'token-not-increasing',
          client,
          otherHolders: this.holders,
          fencingToken,
          highestEarlierToken: this.#highestToken,
          at,
        });
      } else {
        this.#highestToken = fencingToken;
      }
    }
    const holds = this.#open.get(client) ?? [];
    holds.push(fencingToken === undefined ? { acquiredAt: at } : { acquiredAt: at, fencingToken });
    this.#open.set(client, holds);
    this.#inside++;
    this.#grants++;
    this.#maxConcurrent = Math.max(this.#maxConcurrent, this.#inside);
    // Reported after the hold is recorded, so an `onViolation` that throws (a failing
    // assertion) leaves the monitor consistent and the later `exit` still valid.
    for (const violation of found) this.#report(violation);
    const ok = found.length === 0;
    return ok;
  }

  /**
   * Records that `client` is about to release (call right before `release()`), closing its
   * oldest open hold.
   * @throws InvalidHistoryError when `client` holds nothing here (a harness bug).
   */
  exit(client: string): void {
    const holds = this.#open.get(client);
    const hold = holds?.shift();
    if (hold === undefined) throw new InvalidHistoryError(`exit(${JSON.stringify(client)}) without enter`);
    if (holds!.length === 0) this.#open.delete(client);
    this.#inside--;
    this.#completed.push({ client, ...hold, releasedAt: this.#now() });
  }

  /** Clients inside right now, one entry per open hold. */
  get holders(): string[] {
    return [...this.#open.entries()].flatMap(([client, holds]) => holds.map(() => client));
  }

  /** The most clients that were ever inside at once. */
  get maxConcurrent(): number {
    return this.#maxConcurrent;
  }

  /** Number of `enter` calls. */
  get grants(): number {
    return this.#grants;
  }

  /** Violations so far (at most `maxReported`), in the order they happened. */
  get violations(): readonly MutexViolation[] {
    return this.#violations;
  }

  /** Number of violations so far, reported or not. */
  get violationCount(): number {
    return this.#violationCount;
  }

  /** `true` while nothing has gone wrong. */
  get ok(): boolean {
    return this.#violationCount === 0;
  }

  /** The completed holds, in the order they ended. */
  intervals(): HoldInterval[] {
    return [...this.#completed];
  }

  /**
   * The offline verdict over the completed holds (see {@link checkMutex}), with
   * `maxConcurrent` also counting holds still open, and `ok` false if anything was seen live.
   */
  result(): MutexCheckResult {
    const offline = checkMutex(this.#completed, { maxReported: this.#maxReported });
    return {
      ...offline,
      ok: offline.ok && this.ok,
      maxConcurrent: Math.max(offline.maxConcurrent, this.#maxConcurrent),
      grants: this.#grants,
    };
  }

  #report(violation: MutexViolation): void {
    this.#violationCount++;
    if (this.#violations.length < this.#maxReported) this.#violations.push(violation);
    this.#onViolation?.(violation);
  }
}
