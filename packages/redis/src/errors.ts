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

/** Runs `op`, mapping its failure with {@link toLockstepError}. */
export async function mapErrors<T>(
  backend: RedisBackendName,
  doing: string,
  op: () => Promise<T>,
): Promise<T> {
  try {
    return await op();
  } catch (error) {
    throw toLockstepError(backend, error, doing);
  }
}
