/**
 * What a failed connect says: which endpoints failed and why, in the client's own words, and
 * what to fix. (Failures of commands become lockstep errors through core's `backendFailure`.)
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import { backendFailure } from '@lockstep/core/driver';

/** The backend name errors are reported under. */
export type RedisBackendName = 'redis' | 'redlock';

/**
 * `then(value)` of a single-instance command's reply, or its failure as a lockstep error saying
 * what was being done. One `then`, no async frame: this is on every lock cycle's path.
 */
export function answer<T, R>(reply: Promise<T>, doing: string, then: (value: T) => R): Promise<R> {
  return reply.then(then, (error: unknown) => {
    throw backendFailure('redis', doing, error);
  });
}

/** An endpoint `connect` could not reach, with the client's own error. */
export interface EndpointFailure {
  /** `host:port` (`[v6]:port`). */
  readonly address: string;
  readonly error: unknown;
}

/** What `connect` saw, for {@link connectFailure}. */
export interface ConnectOutcome {
  readonly backend: RedisBackendName;
  /** The URL's scheme (`redis`, `rediss`, `redlock`), for the fix it suggests. */
  readonly scheme: string;
  readonly failures: readonly EndpointFailure[];
  readonly connected: number;
  /** Addresses whose attempt had not ended when the outcome became certain. */
  readonly stillConnecting: readonly string[];
  readonly instances: number;
  readonly needed: number;
  /** Whether the URL carries a password (it is the only place one comes from). */
  readonly passwordGiven: boolean;
}

/** Replies by which Redis refuses a login (`ERR invalid password` is Redis 5 and older). */
const LOGIN_REFUSED = /^(?:WRONGPASS|NOAUTH)\b|^ERR invalid password/;

/** Whether Redis refused the login: retrying with the same credentials cannot succeed. */
export function isAuthFailure(error: unknown): boolean {
  return error instanceof Error && LOGIN_REFUSED.test(error.message);
}

/**
 * The error `connect` throws when too few endpoints connected: which failed and why in the
 * client's own words (`ECONNREFUSED 127.0.0.1:6390`, `WRONGPASS …`), then what to fix.
 * `cause` is the client's error (an AggregateError of them when several endpoints failed).
 */
export function connectFailure(outcome: ConnectOutcome): BackendUnavailableError {
  const { backend, failures, instances } = outcome;
  const text = (error: unknown) => messageOf(error).replace(/\.$/, '');
  const allAuth = failures.every((f) => isAuthFailure(f.error));
  let what: string;
  let detail: string;
  if (instances === 1 && failures.length === 1) {
    const [only] = failures as [EndpointFailure];
    what = allAuth ? `authentication failed at ${only.address}` : `cannot connect to ${only.address}`;
    detail = text(only.error);
  } else {
    what = `connected to ${outcome.connected} of ${instances} instances (${outcome.needed} needed)`;
    detail = [
      ...failures.map(
        (f) => `${f.address}: ${isAuthFailure(f.error) ? 'authentication failed: ' : ''}${text(f.error)}`,
      ),
      ...outcome.stillConnecting.map((address) => `${address}: still connecting`),
    ].join('; ');
  }
  const fixes = [...new Set(failures.map((f) => fixFor(f.error, outcome)))];
  const errors = failures.map((f) => f.error);
  return new BackendUnavailableError(backend, `${what} — ${detail}. ${fixes.join(' ')}`, {
    cause: errors.length === 1 ? errors[0] : new AggregateError(errors, `${what} — ${detail}`),
  });
}

function fixFor(error: unknown, { scheme, instances, passwordGiven }: ConnectOutcome): string {
  const hosts = instances > 1 ? 'h1:p1,h2:p2,h3:p3' : 'host:port';
  if (isAuthFailure(error)) {
    return passwordGiven
      ? `Check the user name and password in the URL (${scheme}://user:password@${hosts}).`
      : `The server requires a password and the URL gives none: ${scheme}://:password@${hosts} (user:password@ for an ACL user).`;
  }
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ECONNREFUSED':
      return 'Check that a Redis server listens at that address.';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'Check the host name.';
    default:
      return 'Check that the address is a reachable Redis server; raise connectTimeoutMs if it is only slow.';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
