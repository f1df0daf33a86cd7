/**
 * Options of `connect('etcd://…', options)` and of `etcdCoordinator(client, options)`, also
 * accepted as URL query parameters (`?requestTimeoutMs=2000`). Checked before any I/O.
 * @module
 */
import { type ConnectOptions, InvalidArgumentError, validateName } from '@lockstep/core';
import { optionNames, rejectUnknownOptions, validateBoolean, validateTimeoutMs } from '@lockstep/core/driver';

/** Options of {@link etcdCoordinator} (your own client). */
export interface EtcdCoordinatorOptions {
  /** Namespace for every key (see the README's key layout). Default `"lockstep"`. */
  prefix?: string;
  /**
   * How long one request may wait for its reply. Default 5000 ms. Bounds how long a paused
   * or partitioned server can stall an acquire attempt, a renewal or a release.
   */
  requestTimeoutMs?: number;
}

/** Options understood by the etcd adapter's `connect()`. */
export interface EtcdConnectOptions extends ConnectOptions, EtcdCoordinatorOptions {
  /** How long connecting may take before `BackendUnavailableError`. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Talk TLS to every endpoint (`https://`), verifying with the system's CAs. Default `false`. */
  tls?: boolean;
}

declare module '@lockstep/core' {
  /** `connect('etcd://…', options)` takes {@link EtcdConnectOptions}. */
  interface ConnectOptionsByScheme {
    etcd: EtcdConnectOptions;
  }
}

/** Every option name of {@link EtcdConnectOptions}; anything else is rejected. */
export const ETCD_OPTION_NAMES = optionNames<EtcdConnectOptions>()([
  'prefix',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'tls',
]);

/** Every option name of {@link EtcdCoordinatorOptions}. */
export const ETCD_COORDINATOR_OPTION_NAMES = optionNames<EtcdCoordinatorOptions>()([
  'prefix',
  'requestTimeoutMs',
]);

/** Validated, defaulted options. */
export interface ResolvedOptions {
  readonly prefix: string | undefined;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly tls: boolean;
}

/**
 * @param known the option names the caller accepts (`connect()`'s by default).
 * @throws InvalidArgumentError for a malformed or unknown option.
 */
export function resolveOptions(
  options: EtcdConnectOptions,
  known: readonly string[] = ETCD_OPTION_NAMES,
  where = 'etcd:// options',
): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  rejectUnknownOptions(options, known, where);
  const prefix = options.prefix === undefined ? undefined : validateName(options.prefix, 'prefix');
  return {
    prefix,
    connectTimeoutMs: validateTimeoutMs(options.connectTimeoutMs, 'connectTimeoutMs', 5_000),
    requestTimeoutMs: validateTimeoutMs(options.requestTimeoutMs, 'requestTimeoutMs', 5_000),
    tls: validateBoolean(options.tls, 'tls', false),
  };
}
