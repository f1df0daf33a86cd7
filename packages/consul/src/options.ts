/**
 * Options of the Consul adapter, for `connect('consul://…', options)` (also as URL query
 * parameters: `consul://127.0.0.1:8500?token=…&lockDelayMs=1000`) and for
 * {@link consulCoordinator}. Everything is checked before any I/O.
 * @module
 */
import { type ConnectOptions, InvalidArgumentError, validateName } from '@lockstep/core';
import { optionNames, rejectUnknownOptions, validateBoolean, validateTimeoutMs } from '@lockstep/core/driver';
import type { FetchLike } from './http.js';

/** Consul's documented TTL range is 10 s (the server's `session_ttl_min`) to 86400 s. */
export const DEFAULT_SESSION_TTL_MIN_MS = 10_000;
/** The largest session TTL Consul accepts. */
export const SESSION_TTL_MAX_MS = 86_400_000;
/** Consul caps a session's lock-delay at 60 s. */
export const MAX_LOCK_DELAY_MS = 60_000;
/** Default lock-delay: 0 (Consul's own default is 15 s). See {@link ConsulOptions.lockDelayMs}. */
export const DEFAULT_LOCK_DELAY_MS = 0;

/** Settings shared by `connect()` and {@link consulCoordinator}. */
export interface ConsulOptions {
  /** Namespace for every key (see the README's key layout). Default `"lockstep"`. */
  prefix?: string;
  /** ACL token, sent as `X-Consul-Token` on every request. */
  token?: string;
  /** Datacenter to address (`?dc=`). Default: the agent's own. Alias: `dc`. */
  datacenter?: string;
  /**
   * Timeout of each request that does not block (acquire, release, renewals, counters). Default
   * 5000 ms. Session renewals use at most the time left before the session could expire.
   */
  requestTimeoutMs?: number;
  /**
   * The smallest session TTL the Consul servers accept: their `session_ttl_min` setting, 10 s unless
   * the operator lowered it. Becomes `capabilities.lock.minTtlMs`, so shorter lock TTLs are refused
   * before any I/O instead of by the server. Default 10 000.
   */
  sessionTtlMinMs?: number;
  /**
   * Lock-delay of our sessions, in ms (0–60 000). Default **0**, where Consul's default is 15 s.
   * After a session is invalidated, Consul lets nobody take its locks for this long, so that a
   * deposed holder still running can notice and stop. lockstep already tells a deposed holder
   * first (its signal aborts at last renewal sent + TTL; Consul invalidates between that and twice
   * the TTL), and fencing tokens stop a holder that ignores it or was paused past its lease, which
   * no delay can bound; a delay costs every failover its length. Raise it when the protected
   * resource cannot check fencing tokens.
   */
  lockDelayMs?: number;
}

/** Options of `connect('consul://host:port', options)`. */
export interface ConsulConnectOptions extends ConnectOptions, ConsulOptions {
  /** How long the first request (`/v1/status/leader`) may take. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Talk HTTPS to the agent (default port 8501 instead of 8500). Alias: `tls`. */
  https?: boolean;
  /** Alias of {@link ConsulOptions.datacenter} (Consul's own query parameter name). */
  dc?: string;
  /** Alias of {@link ConsulConnectOptions.https}. */
  tls?: boolean;
}

declare module '@lockstep/core' {
  /** `connect('consul://…', options)` takes {@link ConsulConnectOptions}. */
  interface ConnectOptionsByScheme {
    consul: ConsulConnectOptions;
  }
}

/** Options of {@link consulCoordinator}: your own agent address and, optionally, your own `fetch`. */
export interface ConsulCoordinatorOptions extends ConsulOptions {
  /** The agent's HTTP(S) address, e.g. `http://127.0.0.1:8500`. */
  url: string | URL;
  /** Your `fetch` (custom dispatcher, TLS, instrumentation). Default: the global `fetch`. */
  fetch?: FetchLike;
}

const SHARED_OPTION_NAMES = [
  'prefix',
  'token',
  'datacenter',
  'requestTimeoutMs',
  'sessionTtlMinMs',
  'lockDelayMs',
] as const;

/** Every option name of {@link ConsulConnectOptions}; anything else is rejected. */
export const CONSUL_OPTION_NAMES = optionNames<ConsulConnectOptions>()([
  ...SHARED_OPTION_NAMES,
  'connectTimeoutMs',
  'https',
  'dc',
  'tls',
]);

/** Every option name of {@link ConsulCoordinatorOptions}. */
export const CONSUL_COORDINATOR_OPTION_NAMES = optionNames<ConsulCoordinatorOptions>()([
  ...SHARED_OPTION_NAMES,
  'url',
  'fetch',
]);

/** Validated, defaulted settings. */
export type ResolvedOptions = ReturnType<typeof resolveOptions>;

/**
 * @param known the option names the caller accepts (`connect()`'s by default).
 * @throws InvalidArgumentError for a malformed or unknown option.
 */
export function resolveOptions(
  options: ConsulConnectOptions | ConsulOptions,
  known: readonly string[] = CONSUL_OPTION_NAMES,
  where = 'consul:// options',
) {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  rejectUnknownOptions(options, known, where);
  const o = options as ConsulConnectOptions;
  const datacenter = text(o.datacenter ?? o.dc, 'datacenter');
  if (datacenter !== undefined && !/^[A-Za-z0-9_.-]+$/.test(datacenter)) {
    throw new InvalidArgumentError('datacenter', `${JSON.stringify(datacenter)} is not a datacenter name`);
  }
  return {
    prefix: o.prefix === undefined ? undefined : validateName(o.prefix, 'prefix'),
    token: text(o.token, 'token'),
    datacenter,
    requestTimeoutMs: validateTimeoutMs(o.requestTimeoutMs, 'requestTimeoutMs', 5_000),
    connectTimeoutMs: validateTimeoutMs(o.connectTimeoutMs, 'connectTimeoutMs', 5_000),
    https: validateBoolean(o.https ?? o.tls, 'https', false),
    sessionTtlMinMs: integerMs(
      o.sessionTtlMinMs,
      'sessionTtlMinMs',
      DEFAULT_SESSION_TTL_MIN_MS,
      1,
      SESSION_TTL_MAX_MS,
    ),
    lockDelayMs: integerMs(o.lockDelayMs, 'lockDelayMs', DEFAULT_LOCK_DELAY_MS, 0, MAX_LOCK_DELAY_MS),
  };
}

function text(value: unknown, what: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  // URL query parsing turns digit-only strings into numbers; a token is still text.
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string')
    throw new InvalidArgumentError(what, `must be a string, got ${typeof value}`);
  if (/[\r\n]/.test(value)) throw new InvalidArgumentError(what, 'must not contain line breaks');
  return value;
}

function integerMs(value: unknown, what: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      what,
      `must be an integer number of ms from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}
