/**
 * Failures at a driver's edge, and the bounds every backend call needs: whatever a client
 * library throws reaches the user as a lockstep error (a `BackendUnavailableError` naming
 * what was being done, with the original as `cause`); a call that may not answer is bounded
 * in time; a retried call backs off with jitter so many clients do not retry in step.
 * @module
 */
import { BackendUnavailableError, LockstepError } from '../errors.js';
import { jitter } from '../random.js';

/**
 * `error` as a lockstep error: lockstep errors pass through, anything else becomes
 * `BackendUnavailableError(backend, "<doing> failed: <message>")` with `error` as its cause.
 */
export function backendFailure(backend: string, doing: string, error: unknown): LockstepError {
  if (error instanceof LockstepError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new BackendUnavailableError(backend, `${doing} failed: ${detail}`, { cause: error });
}

/** Runs `op`, turning its failure into a lockstep error with {@link backendFailure}. */
export async function mapFailures<T>(backend: string, doing: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (error) {
    throw backendFailure(backend, doing, error);
  }
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms` — whichever comes first.
 * The timer does not keep the process alive and is cleared when `promise` settles. `promise`
 * itself is not cancelled: a caller that must stop the work passes it a signal as well.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
export function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return withTimeout(
    promise.then(
      () => {},
      () => {},
    ),
    ms,
    () => new Error('timed out'),
  ).catch(() => {});
}

/** Capped exponential backoff with jitter: `next()` gives the next pause; `reset()` starts over. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #currentMs: number;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#currentMs = initialMs;
  }

  /** The pause before the next try (jittered by ±20 %); doubles the one after, up to the cap. */
  next(): number {
    const pause = jitter(this.#currentMs);
    this.#currentMs = Math.min(this.#currentMs * 2, this.#maxMs);
    return pause;
  }

  /** Back to the initial pause (after a success, or a real change). */
  reset(): void {
    this.#currentMs = this.#initialMs;
  }
}
