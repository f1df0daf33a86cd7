/**
 * Options of `connect('etcd://…', options)` and of `etcdCoordinator(client, options)`, also
 * accepted as URL query parameters (`?requestTimeoutMs=2000`). Checked before any I/O.
 * @module
 */
import { type ConnectOptions, InvalidArgumentError, validateName } from '@lockstep/core';

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

/** Validated, defaulted options. */
export interface ResolvedOptions {
  readonly prefix: string | undefined;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly tls: boolean;
}

/** @throws InvalidArgumentError for a malformed option. */
export function resolveOptions(options: EtcdConnectOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  const prefix = options.prefix === undefined ? undefined : validateName(options.prefix, 'prefix');
  return {
    prefix,
    connectTimeoutMs: positiveMs(options.connectTimeoutMs, 'connectTimeoutMs', 5_000),
    requestTimeoutMs: positiveMs(options.requestTimeoutMs, 'requestTimeoutMs', 5_000),
    tls: bool(options.tls, 'tls'),
  };
}

function positiveMs(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 2_147_483_647) {
    throw new InvalidArgumentError(what, `must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

function bool(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean')
    throw new InvalidArgumentError(what, `must be a boolean, got ${String(value)}`);
  return value;
}
