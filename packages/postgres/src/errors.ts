/**
 * Client and server errors become lockstep errors: `BackendUnavailableError` with the `pg`
 * error as `cause`; lockstep's own errors pass through. Also the SQLSTATE classes the adapter
 * reacts to.
 * @module
 */
import { BackendUnavailableError, LockstepError, UnsupportedError } from '@lockstep/core';

/** The SQLSTATE of a server error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The tables (or their schema) do not exist yet: create them and retry. */
export function isMissingTable(error: unknown): boolean {
  const state = sqlState(error);
  return state === '42P01' || state === '3F000';
}

/** The statement was interrupted by `pg_cancel_backend` (our own cancel of a wait). */
export function isCancelled(error: unknown): boolean {
  return sqlState(error) === '57014';
}

/**
 * Whether the error leaves the connection usable. Server errors of a statement do; socket
 * errors, client timeouts and the server ending the session (class 08, 57P01–57P05: shutdown,
 * crash, terminated, idle-session timeout) do not.
 */
export function isSessionFatal(error: unknown): boolean {
  const state = sqlState(error);
  if (state === undefined) return true;
  return state.startsWith('08') || /^57P0[1-5]$/.test(state) || state === '57000';
}

/** Wraps anything that is not already a lockstep error. */
export function toLockstepError(error: unknown, doing: string): Error {
  if (error instanceof LockstepError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new BackendUnavailableError('postgres', `${doing} failed: ${detail}`, { cause: error });
}

/** Runs `op`, mapping its failure with {@link toLockstepError}. */
export async function mapErrors<T>(doing: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (error) {
    throw toLockstepError(error, doing);
  }
}

/**
 * The connection does not reach one PostgreSQL backend for its whole life: a pooler such as
 * PgBouncer sits in between. Session advisory locks cannot work through a transaction-mode
 * pooler (the unlock may run on another backend and the lock leaks), so lockstep refuses.
 */
export function poolerError(detail: string): UnsupportedError {
  return new UnsupportedError(
    'postgres',
    'connections through a pooler',
    `${detail}. Session advisory locks need a connection pinned to one backend: with a ` +
      'transaction- or statement-mode pooler (PgBouncer, RDS Proxy, Supavisor) an unlock can run on ' +
      'another backend and leak the lock. Connect lockstep directly to PostgreSQL (or, only for a ' +
      'session-mode pooler, pass allowSessionPooler: true)',
  );
}
