/**
 * Failing a connect fast when nothing listens anywhere: a client library that retries its hosts
 * in a loop (and hides each attempt's error) would otherwise wait out the whole connect
 * timeout, then report only that it timed out.
 * @module
 */
import { connect as dial, type Socket } from 'node:net';
import { BackendUnavailableError } from '../errors.js';
import { formatHost, type UrlHost } from '../hosts.js';

/** A host that refused a TCP connection, with the socket's own error. */
export interface HostRefusal {
  /** `host:port` (an IPv6 address in brackets). */
  readonly address: string;
  /** The error's text, e.g. `connect ECONNREFUSED 127.0.0.1:2379`. */
  readonly reason: string;
  readonly error: NodeJS.ErrnoException;
}

/**
 * Socket errors that mean no server can answer at that address now: nothing listens on the
 * port, or the name does not exist. (A timeout, an unreachable network or a temporary
 * resolver failure might still clear up, so they do not count.)
 */
const REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND']);

/** Options of {@link everyHostRefused}. */
export interface RefusalCheckOptions {
  /** Ends the check (and its sockets): the client connected or gave up. */
  readonly signal: AbortSignal;
  /**
   * Dial only if the client has not connected after this long, so a healthy connect never
   * opens an extra connection. Default 0.
   */
  readonly afterMs?: number;
}

/**
 * Dials every host once over plain TCP (each socket is closed as soon as it connects) and
 * resolves with the refusals (in the order of `hosts`) when every host refused; resolves `undefined` as soon as one
 * host accepted or failed some other way, or when `signal` aborts — somewhere the client
 * might still be answered, so its caller keeps waiting for it. Never rejects.
 */
export function everyHostRefused(
  hosts: readonly UrlHost[],
  { signal, afterMs = 0 }: RefusalCheckOptions,
): Promise<HostRefusal[] | undefined> {
  return new Promise((resolve) => {
    const sockets: Socket[] = [];
    const refusals: HostRefusal[] = [];
    let refused = 0;
    const finish = (outcome: HostRefusal[] | undefined) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      for (const socket of sockets) socket.destroy();
      resolve(outcome);
    };
    const onAbort = () => finish(undefined);
    const dialAll = () => {
      for (const [i, host] of hosts.entries()) {
        const socket = dial({ host: host.host, port: host.port });
        sockets.push(socket);
        socket.once('connect', () => finish(undefined));
        socket.once('error', (error: NodeJS.ErrnoException) => {
          if (!REFUSED.has(codeOf(error))) return finish(undefined);
          refusals[i] = { address: formatHost(host), reason: textOf(error), error };
          if (++refused === hosts.length) finish(refusals);
        });
      }
    };
    if (signal.aborted) return resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(dialAll, afterMs);
  });
}

// For a name with several addresses (`localhost`: ::1 and 127.0.0.1) Node reports an
// AggregateError of the attempts, with an empty message.
function attemptsOf(error: NodeJS.ErrnoException): NodeJS.ErrnoException[] {
  const errors = (error as Partial<AggregateError>).errors;
  return Array.isArray(errors) && errors.length > 0 ? errors : [error];
}

function codeOf(error: NodeJS.ErrnoException): string {
  return error.code ?? attemptsOf(error)[0]?.code ?? '';
}

function textOf(error: NodeJS.ErrnoException): string {
  return (
    error.message ||
    attemptsOf(error)
      .map((attempt) => attempt.message)
      .join(', ')
  );
}

/**
 * The error for a connect that every host refused: each address with its socket error, then
 * what to check. `server` names the server in the advice ("etcd", "ZooKeeper"). `cause` is
 * the socket error, or an AggregateError of them for several hosts.
 */
export function refusedError(
  backend: string,
  server: string,
  refusals: readonly HostRefusal[],
): BackendUnavailableError {
  const where = refusals.map((r) => r.address).join(',');
  const detail =
    refusals.length === 1 ? refusals[0]!.reason : refusals.map((r) => `${r.address}: ${r.reason}`).join('; ');
  const codes = new Set(refusals.map((r) => codeOf(r.error)));
  const fixes = [
    codes.has('ECONNREFUSED') ? `Check that ${server} is running and listens at that address.` : '',
    codes.has('ENOTFOUND') ? 'Check the host name.' : '',
  ].filter((fix) => fix !== '');
  const errors = refusals.map((r) => r.error);
  return new BackendUnavailableError(backend, `cannot connect to ${where} — ${detail}. ${fixes.join(' ')}`, {
    cause: errors.length === 1 ? errors[0] : new AggregateError(errors, detail),
  });
}
