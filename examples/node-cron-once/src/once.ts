/**
 * Run a scheduled job once per tick across every instance that schedules it.
 *
 * Each tick has its own lock, `NAME:<tick>` (the tick's scheduled time, rounded to the second),
 * taken with `tryAcquire()`: the instance that gets it runs the tick, the others skip it. The
 * claim is a pure lease (`autoExtend: false`) and is never released: it stays until its lease
 * runs out, so an instance that reaches the tick later — a slower event loop, a clock a little
 * behind — still finds it taken. Releasing it after the run would hand the tick to whoever
 * comes next.
 *
 * THE RULE. Tick T runs at most once when every instance's attempt at T reaches the backend
 * before the first claim of T has expired. The first claim lives `ttlMs` from the moment it
 * was granted; an attempt is only made up to `lateMs` after T by the attempting instance's
 * clock (later ones are skipped, see below); so it holds when
 *
 *     lateMs + clock skew between instances + time for the attempt to reach the backend < ttlMs
 *
 * (by default `lateMs` is half of `ttlMs`, leaving the other half for skew and latency). How
 * long the job itself runs does not matter: the claim is about attempts, not runs. It runs
 * exactly once when, in addition, the instance that claimed it does not die before running it
 * — a crash between the claim and the job loses that tick; nothing retries it.
 *
 * The claim's fencing token orders grants of that one tick's name only, which says nothing
 * about the next tick. So the run itself holds the job's lock, `NAME` — one name for every
 * tick — and `fn` gets that lock's token: it grows from run to run, so what the job writes
 * can refuse a write from an older run that stalled (pass `fencingToken` along and have the
 * store reject smaller ones). Holding it also keeps runs from overlapping when a run is
 * longer than the period.
 * @module
 */
import { type Coordinator, type LockHandle, LockTimeoutError } from '@lockstep/core';

export interface OncePerTickOptions {
  /** Lease of each tick's claim, in ms: must cover `lateMs` plus clock skew plus latency. Default 3000. */
  ttlMs?: number;
  /** An attempt starting more than this long after its tick (by this instance's clock) is skipped. Default `ttlMs / 2`. */
  lateMs?: number;
  /** How long a run waits for the job lock while the previous run still holds it. Default `ttlMs`. */
  waitMs?: number;
  /** The unit ticks are rounded to, in ms: the schedule's resolution. Default 1000 (a second). */
  roundMs?: number;
}

/** What the job gets for its run. */
export interface TickRun {
  /** The tick, rounded to `roundMs`: the same on every instance for the same scheduled moment. */
  readonly tick: Date;
  /** The job lock's fencing token: larger for every run. */
  readonly fencingToken: bigint;
  /** Aborted if the job lock is lost while the job runs. */
  readonly signal: AbortSignal;
}

/** What became of one attempt at a tick. */
export type TickOutcome<T> =
  | { readonly ran: true; readonly tick: Date; readonly fencingToken: bigint; readonly result: T }
  | {
      readonly ran: false;
      readonly tick: Date;
      /**
       * `taken`: another instance claimed the tick. `late`: the attempt started more than
       * `lateMs` after the tick. `overrun`: the claim was ours but the previous run held the
       * job lock past `waitMs` (the tick is not run anywhere). `stopped`: after `drain()`.
       */
      readonly reason: 'taken' | 'late' | 'overrun' | 'stopped';
    };

export interface OncePerTick<T> {
  /** Attempts the tick scheduled at `scheduled` (node-cron's `context.date`). Rejects when `fn` throws. */
  run(scheduled: Date): Promise<TickOutcome<T>>;
  /**
   * Stops attempting ticks, waits for attempts under way, then waits until every claim this
   * instance holds has expired (at most `ttlMs`). Call it before `coordinator.close()`: close
   * releases held locks, and releasing a claim early would let a late instance run its tick.
   */
  drain(): Promise<void>;
}

export function oncePerTick<T>(
  coord: Coordinator,
  name: string,
  fn: (run: TickRun) => Promise<T> | T,
  options: OncePerTickOptions = {},
): OncePerTick<T> {
  const ttlMs = options.ttlMs ?? 3_000;
  const lateMs = options.lateMs ?? ttlMs / 2;
  const waitMs = options.waitMs ?? ttlMs;
  const roundMs = options.roundMs ?? 1_000;
  if (!(lateMs < ttlMs)) throw new RangeError(`lateMs (${lateMs}) must be smaller than ttlMs (${ttlMs})`);
  const job = coord.lock(name, { ttlMs });
  const attempts = new Set<Promise<unknown>>();
  const claims = new Set<LockHandle>();
  let stopped = false;

  async function attempt(scheduled: Date): Promise<TickOutcome<T>> {
    const tick = new Date(Math.round(scheduled.getTime() / roundMs) * roundMs);
    if (stopped) return { ran: false, tick, reason: 'stopped' };
    if (Date.now() - tick.getTime() > lateMs) return { ran: false, tick, reason: 'late' };
    const claim = await coord
      .lock(`${name}:${tick.toISOString()}`, { ttlMs, autoExtend: false })
      .tryAcquire();
    if (claim === null) return { ran: false, tick, reason: 'taken' };
    // Kept, not released: its signal aborts when the lease has run out, and only then is it gone.
    claims.add(claim);
    if (claim.signal.aborted) claims.delete(claim);
    else claim.signal.addEventListener('abort', () => claims.delete(claim), { once: true });
    let held: LockHandle;
    try {
      held = await job.acquire({ waitMs });
    } catch (error) {
      if (error instanceof LockTimeoutError) return { ran: false, tick, reason: 'overrun' };
      throw error;
    }
    try {
      const result = await fn({ tick, fencingToken: held.fencingToken, signal: held.signal });
      return { ran: true, tick, fencingToken: held.fencingToken, result };
    } finally {
      await held.release();
    }
  }

  return {
    run(scheduled) {
      const running = attempt(scheduled);
      const tracked = running.catch(() => {});
      attempts.add(tracked);
      void tracked.finally(() => attempts.delete(tracked));
      return running;
    },
    async drain() {
      stopped = true;
      await Promise.allSettled([...attempts]);
      // Lease timers do not keep a process alive; this does, until the last claim has lapsed.
      const keepAlive = setInterval(() => {}, 1_000);
      try {
        await Promise.all(
          [...claims].map(
            (claim) => new Promise((resolve) => claim.signal.addEventListener('abort', resolve)),
          ),
        );
      } finally {
        clearInterval(keepAlive);
      }
    },
  };
}
