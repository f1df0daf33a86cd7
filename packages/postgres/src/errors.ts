/**
 * The errors only PostgreSQL has: the SQLSTATE classes the adapter reacts to, the pooler
 * refusal, and what `connect()` says when it cannot go on. (Everything else a `pg` call throws
 * becomes a `BackendUnavailableError` with it as `cause`, through core's `backendFailure`.)
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

/** Where `connect` was going, for its failure messages. */
export interface ConnectTarget {
  /** `host:port`. */
  readonly address: string;
  /** The user the URL names, if any (pg otherwise falls back to PGUSER or the OS user). */
  readonly user: string | undefined;
  readonly connectTimeoutMs: number;
}

/** pg's texts when no password was available for a server that asks for one. */
const NO_PASSWORD = /client password must be a string|Password must be a string/;
/** pg's texts when its own connection timeout ended the attempt. */
const PG_CONNECT_TIMEOUT = /^(?:timeout expired|Connection terminated due to connection timeout)$/;

/**
 * The error `connect` throws when it could not open its first session: which kind of failure
 * it is (no answer, refused login, refused connection), the cause in the server's or the
 * socket's words, and what to do. Errors that already say what to do (a pooler, the tables)
 * pass through.
 */
export function connectFailure(error: unknown, target: ConnectTarget): Error {
  // The wrapping ("connecting failed: …") says less than the client's error.
  const inner = error instanceof BackendUnavailableError && error.cause !== undefined ? error.cause : error;
  const fail = (message: string) => new BackendUnavailableError('postgres', message, { cause: inner });
  const { address, user } = target;
  if (!isSilence(inner) && inner instanceof LockstepError) return inner;
  const detail = inner instanceof Error ? inner.message : String(inner);
  if (isSilence(inner)) {
    return fail(
      `cannot connect to ${address} — the server did not answer within connectTimeoutMs (${target.connectTimeoutMs} ms). ` +
        'Check that a PostgreSQL server listens there and is not paused or overloaded; raise connectTimeoutMs if it is only slow.',
    );
  }
  const login = `authentication failed${user ? ` for user "${user}"` : ''} at ${address}`;
  if (NO_PASSWORD.test(detail)) {
    return fail(
      `${login} — the server requires a password and none was given (not in the URL, PGPASSWORD or ~/.pgpass). ` +
        'Put it in the URL: postgres://user:password@host/database.',
    );
  }
  const state = sqlState(inner);
  if (state === '28P01') {
    return fail(
      `${login} — ${detail}. Check the password in the URL (postgres://user:password@host/database).`,
    );
  }
  if (state === '28000') {
    return fail(
      `${login} — ${detail}. The server's pg_hba.conf does not let this user reach this database from here (or not without TLS: try ?sslmode=require).`,
    );
  }
  const code = (inner as NodeJS.ErrnoException | null)?.code;
  const fix =
    code === 'ECONNREFUSED'
      ? ' Check that PostgreSQL is running and listens at that address.'
      : code === 'ENOTFOUND'
        ? ' Check the host name.'
        : '';
  return fail(`cannot connect to ${address} — ${detail}.${fix}`);
}

function isSilence(error: unknown): boolean {
  if (error instanceof NoConnectionInTimeError) return !error.poolFull;
  return error instanceof Error && PG_CONNECT_TIMEOUT.test(error.message);
}

/**
 * The pool did not hand out a connection in time: every one was in use, or the new one it
 * opened got no answer from the server.
 */
export class NoConnectionInTimeError extends BackendUnavailableError {
  /** Whether every connection of the pool was in use (else the server did not answer). */
  readonly poolFull: boolean;
  constructor(ms: number, poolFull: boolean) {
    super(
      'postgres',
      poolFull
        ? `the pool had no connection to spare within ${ms} ms (all in use: raise its max?)`
        : `the server did not answer a new connection within ${ms} ms`,
    );
    this.poolFull = poolFull;
  }
}
