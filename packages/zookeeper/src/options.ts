/**
 * Options of `connect('zookeeper://…', options)` and of `zookeeperCoordinator(client, options)`,
 * also accepted as URL query parameters (`?sessionTimeoutMs=10000`). Checked before any I/O.
 * @module
 */
import {
  type ConnectOptions,
  InvalidArgumentError,
  optionNames,
  rejectUnknownOptions,
  validateName,
} from '@lockstep/core';

/** Default requested session timeout: lockstep's default lock TTL. */
export const DEFAULT_SESSION_TIMEOUT_MS = 15_000;
/** Default connect timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Options of {@link zookeeperCoordinator} (your own client). */
export interface ZooKeeperCoordinatorOptions {
  /** Namespace for every node (see the README's layout). Default `"lockstep"`. */
  prefix?: string;
  /**
   * How long to wait for your client to be connected (and for a factory's new clients) before
   * `BackendUnavailableError`. Default 5000 ms.
   */
  connectTimeoutMs?: number;
}

/** Options understood by the ZooKeeper adapter's `connect()`. */
export interface ZooKeeperConnectOptions extends ConnectOptions, ZooKeeperCoordinatorOptions {
  /**
   * The session timeout to ask for (the server clamps it to its `[minSessionTimeout,
   * maxSessionTimeout]`, by default 2–20 ticks). Default 15 000 ms. It is the lease of every
   * lock of the coordinator: a crashed, paused or partitioned holder keeps its locks this long
   * before the server frees them, and the holder's own clock declares them lost no later.
   */
  sessionTimeoutMs?: number;
}

declare module '@lockstep/core' {
  /** `connect('zookeeper://…', options)` takes {@link ZooKeeperConnectOptions}. */
  interface ConnectOptionsByScheme {
    zookeeper: ZooKeeperConnectOptions;
  }
}

/** Every option name of {@link ZooKeeperConnectOptions}; anything else is rejected. */
export const ZOOKEEPER_OPTION_NAMES = optionNames<ZooKeeperConnectOptions>()([
  'prefix',
  'connectTimeoutMs',
  'sessionTimeoutMs',
]);

/** Every option name of {@link ZooKeeperCoordinatorOptions}. */
export const ZOOKEEPER_COORDINATOR_OPTION_NAMES = optionNames<ZooKeeperCoordinatorOptions>()([
  'prefix',
  'connectTimeoutMs',
]);

/** Validated, defaulted options. */
export interface ResolvedOptions {
  readonly prefix: string | undefined;
  readonly connectTimeoutMs: number;
  readonly sessionTimeoutMs: number;
}

/**
 * @param known the option names the caller accepts (`connect()`'s by default).
 * @throws InvalidArgumentError for a malformed or unknown option.
 */
export function resolveOptions(
  options: ZooKeeperConnectOptions | ZooKeeperCoordinatorOptions,
  known: readonly string[] = ZOOKEEPER_OPTION_NAMES,
  where = 'zookeeper:// options',
): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  rejectUnknownOptions(options, known, where);
  return {
    prefix: options.prefix === undefined ? undefined : validateName(options.prefix, 'prefix'),
    connectTimeoutMs: positiveMs(options.connectTimeoutMs, 'connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS),
    sessionTimeoutMs: positiveMs(
      (options as ZooKeeperConnectOptions).sessionTimeoutMs,
      'sessionTimeoutMs',
      DEFAULT_SESSION_TIMEOUT_MS,
    ),
  };
}

function positiveMs(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 2_147_483_647) {
    throw new InvalidArgumentError(
      what,
      `must be a positive integer number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}
