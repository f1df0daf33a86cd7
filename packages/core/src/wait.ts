/**
 * Waiting for a lock: one algorithm for every backend. Queue-based drivers wait in the
 * backend's own queue; try-then-wait drivers attempt, then sleep on a release watch with a
 * bounded, jittered fallback re-check so a lost notification can never hang a waiter.
 * Timeouts and aborts always clean up before rejecting: nothing is left queued or held.
 * @module
 */
import { linkSignals, sleep } from './abort.js';
import type { AcquireRequest, LeaseGrant, LockDriver, LockWatch } from './driver.js';
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
export function waitForGrant(input: WaitInput): Promise<TimedGrant> {
  const { driver, request } = input;
  // The common case first, without an async frame: a queue-based driver, no timeout, no signal
  // of the caller's — closing the coordinator is the only way to stop this wait.
  if (driver.acquire && input.waitMs === undefined && input.signal === undefined && !input.closing.aborted) {
    return driver.acquire(request, input.closing).then(grantedNow);
  }
  return waitForGrantWithStops(input);
}

/** A queue driver's grant, timed when it arrives (per-lock drivers set `validUntil` themselves). */
function grantedNow(grant: LeaseGrant): TimedGrant {
  return { grant, sentAt: performance.now() };
}

async function waitForGrantWithStops(input: WaitInput): Promise<TimedGrant> {
  const { driver, request, waitMs } = input;
  input.signal?.throwIfAborted();
  input.closing.throwIfAborted();
  const started = performance.now();
  if (waitMs === 0) {
    const grant = await driver.tryAcquire(request);
    if (grant) return { grant, sentAt: started };
    throw new LockTimeoutError(request.lock.name, 0);
  }
  if (!driver.acquire) return waitWithWatch(input, started);
  // Queue-based drivers learn of the grant when it happens; per-lock ones set validUntil.
  const acquire = driver.acquire.bind(driver);
  return untilStopped(input, started, async (stop) => ({
    grant: await acquire(request, stop),
    sentAt: performance.now(),
  }));
}

/**
 * Runs `wait` with one "stop" signal (caller, close, `waitMs`), and turns a stop by the
 * timeout into `LockTimeoutError`.
 */
async function untilStopped(
  input: WaitInput,
  started: number,
  wait: (stop: AbortSignal) => Promise<TimedGrant>,
): Promise<TimedGrant> {
  // waitMs bounds the whole acquire: what the attempts before this wait took counts against
  // it. (AbortSignal.timeout takes whole milliseconds only; waitMs may be fractional.)
  const timeout =
    input.waitMs === undefined
      ? undefined
      : AbortSignal.timeout(Math.max(0, Math.ceil(input.waitMs - (performance.now() - started))));
  const { signal: stop, dispose } = stopSignal(input, timeout);
  try {
    return await wait(stop);
  } catch (error) {
    if (timeout?.aborted && !input.signal?.aborted && !input.closing.aborted) {
      throw new LockTimeoutError(input.request.lock.name, Math.round(performance.now() - started));
    }
    throw error;
  } finally {
    dispose();
  }
}

/**
 * Try-then-wait. The release watch is opened before the first attempt, so no release can
 * slip between a failed attempt and the wait. Most acquires are uncontended: the timeout and
 * abort plumbing is only built once the first attempt has failed.
 */
async function waitWithWatch(input: WaitInput, started: number): Promise<TimedGrant> {
  const { driver, request } = input;
  const watch = driver.watch?.(request.lock);
  let granted = false;
  try {
    const grant = await driver.tryAcquire(request);
    if (grant) {
      const aborted = [input.signal, input.closing].find((s) => s?.aborted);
      if (!aborted) {
        granted = true;
        return { grant, sentAt: started };
      }
      // The grant raced an abort or close: give it back so nothing is left held.
      await grant.release().catch(() => {});
      throw aborted.reason;
    }
    const timed = await untilStopped(input, started, (stop) =>
      waitThenRetry(driver, request, watch, stop, input.recheck),
    );
    granted = true;
    return timed;
  } finally {
    watch?.close(granted);
  }
}

/**
 * One signal for "stop waiting": the caller's, the coordinator's close, the timeout. A plain
 * `acquire()` has only the close signal, which then serves as is (linking costs an
 * AbortSignal and a listener per acquire).
 */
function stopSignal(
  input: WaitInput,
  timeout: AbortSignal | undefined,
): { signal: AbortSignal; dispose: () => void } {
  if (input.signal === undefined && timeout === undefined)
    return { signal: input.closing, dispose: () => {} };
  const signals = [input.signal, input.closing, timeout].filter((s): s is AbortSignal => s !== undefined);
  return linkSignals(signals);
}

/** After a failed attempt: wait (watch or sleep, with the fallback re-check), retry, repeat. */
async function waitThenRetry(
  driver: LockDriver,
  request: AcquireRequest,
  watch: LockWatch | undefined,
  stop: AbortSignal,
  recheck = watch ? WATCHED_RECHECK : POLLED_RECHECK,
): Promise<TimedGrant> {
  let delay = recheck.initialMs;
  for (;;) {
    if (stop.aborted) throw stop.reason;
    const waitFor = jitter(delay);
    if (watch) await watch.next(waitFor, stop);
    else await sleep(waitFor, stop);
    if (stop.aborted) throw stop.reason;
    delay = Math.min(delay * 2, recheck.maxMs);
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
  }
}
