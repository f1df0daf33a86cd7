/**
 * Waiting for a lock: one algorithm for every backend. Queue-based drivers wait in the
 * backend's own queue; try-then-wait drivers attempt, then sleep on a release watch with a
 * bounded, jittered fallback re-check so a lost notification can never hang a waiter.
 * Timeouts and aborts always clean up before rejecting: nothing is left queued or held.
 * @module
 */
import { linkSignals, sleep } from './abort.js';
import type { AcquireRequest, LeaseGrant, LockDriver } from './driver.js';
import { LockTimeoutError } from './errors.js';
import { jitter } from './random.js';

/** Timing of the fallback re-check. */
export interface RecheckPolicy {
  /** First re-check delay when no notification arrives. */
  readonly initialMs: number;
  /** Cap on the delay. */
  readonly maxMs: number;
}

/** With a release watch the re-check is only a safety net; without one it is the mechanism. */
export const WATCHED_RECHECK: RecheckPolicy = { initialMs: 250, maxMs: 2_000 };
export const POLLED_RECHECK: RecheckPolicy = { initialMs: 10, maxMs: 250 };

/** A grant and the instant the request that won it was sent (the lease counts from there). */
export interface TimedGrant {
  readonly grant: LeaseGrant;
  readonly sentAt: number;
}

/** Inputs of {@link waitForGrant}. */
export interface WaitInput {
  readonly driver: LockDriver;
  readonly request: AcquireRequest;
  /** Undefined: wait forever. 0: one attempt. */
  readonly waitMs: number | undefined;
  /** The caller's signal. */
  readonly signal: AbortSignal | undefined;
  /** The coordinator's signal (aborted by close()). */
  readonly closing: AbortSignal;
  readonly recheck?: RecheckPolicy;
}

/**
 * Acquires or rejects: with `LockTimeoutError` when `waitMs` passes, with the caller's
 * `signal.reason` when it aborts, with the coordinator's reason when it closes.
 */
export async function waitForGrant(input: WaitInput): Promise<TimedGrant> {
  const { driver, request, waitMs } = input;
  input.signal?.throwIfAborted();
  input.closing.throwIfAborted();
  const started = performance.now();
  if (waitMs === 0) {
    const grant = await driver.tryAcquire(request);
    if (grant) return { grant, sentAt: started };
    throw new LockTimeoutError(request.lock.name, 0);
  }
  if (!driver.acquire) {
    // Fast path: most acquires are uncontended, so try once before building the wait
    // machinery. A miss costs one attempt more; no release can slip by, because the loop
    // below opens its watch before it tries again.
    const grant = await driver.tryAcquire(request);
    if (grant) return { grant, sentAt: started };
  }
  const timeout = waitMs === undefined ? undefined : AbortSignal.timeout(waitMs);
  const signals = [input.signal, input.closing, timeout].filter((s): s is AbortSignal => s !== undefined);
  const { signal: stop, dispose } = linkSignals(signals);
  try {
    if (!driver.acquire) return await tryThenWait(driver, request, stop, input.recheck);
    // Queue-based drivers learn of the grant when it happens; per-lock ones set validUntil.
    const grant = await driver.acquire(request, stop);
    return { grant, sentAt: performance.now() };
  } catch (error) {
    if (timeout?.aborted && !input.signal?.aborted && !input.closing.aborted) {
      throw new LockTimeoutError(request.lock.name, Math.round(performance.now() - started));
    }
    throw error;
  } finally {
    dispose();
  }
}

async function tryThenWait(
  driver: LockDriver,
  request: AcquireRequest,
  stop: AbortSignal,
  recheck = driver.watch ? WATCHED_RECHECK : POLLED_RECHECK,
): Promise<TimedGrant> {
  const watch = driver.watch?.(request.lock);
  try {
    let delay = recheck.initialMs;
    for (;;) {
      const sentAt = performance.now();
      const grant = await driver.tryAcquire(request);
      if (grant) {
        if (stop.aborted) {
          // The grant raced the timeout or abort: give it back so nothing is left held.
          await grant.release().catch(() => {});
          throw stop.reason;
        }
        return { grant, sentAt };
      }
      if (stop.aborted) throw stop.reason;
      const waitFor = jitter(delay);
      if (watch) await watch.next(waitFor, stop);
      else await sleep(waitFor, stop);
      if (stop.aborted) throw stop.reason;
      delay = Math.min(delay * 2, recheck.maxMs);
    }
  } finally {
    watch?.close();
  }
}
