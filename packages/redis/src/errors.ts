/**
 * Client errors become `BackendUnavailableError` (with the ioredis error as `cause`);
 * lockstep's own errors pass through unchanged.
 * @module
 */
import { BackendUnavailableError, LockstepError } from '@lockstep/core';

/** The backend name errors are reported under. */
export type RedisBackendName = 'redis' | 'redlock';

/** Wraps anything that is not already a lockstep error. */
export function toLockstepError(backend: RedisBackendName, error: unknown, doing: string): Error {
  if (error instanceof LockstepError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new BackendUnavailableError(backend, `${doing} failed: ${detail}`, { cause: error });
}

/** `promise`, with its failure mapped by {@link toLockstepError}. */
export function mapErrors<T>(backend: RedisBackendName, doing: string, promise: Promise<T>): Promise<T> {
  return promise.catch((error: unknown) => {
    throw toLockstepError(backend, error, doing);
  });
}
