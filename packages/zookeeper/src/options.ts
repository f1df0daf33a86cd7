/**
 * Options of `connect('zookeeper://…', options)` and of `zookeeperCoordinator(client, options)`,
 * also accepted as URL query parameters (`?sessionTimeoutMs=10000`). Checked before any I/O.
 * @module
 */
import { type ConnectOptions, InvalidArgumentError, validateName } from '@lockstep/core';
import { optionNames, rejectUnknownOptions, validateTimeoutMs } from '@lockstep/core/driver';

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

/**
 * The options, validated and defaulted.
 * @param known the option names the caller accepts (`connect()`'s by default).
 * @throws InvalidArgumentError for a malformed or unknown option.
 */
export function resolveOptions(
  options: ZooKeeperConnectOptions | ZooKeeperCoordinatorOptions,
  known: readonly string[] = ZOOKEEPER_OPTION_NAMES,
  where = 'zookeeper:// options',
) {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  rejectUnknownOptions(options, known, where);
  const { prefix, connectTimeoutMs, sessionTimeoutMs } = options as ZooKeeperConnectOptions;
  return {
    prefix: prefix === undefined ? undefined : validateName(prefix, 'prefix'),
    connectTimeoutMs: validateTimeoutMs(connectTimeoutMs, 'connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS),
    sessionTimeoutMs: wholeMs(
      validateTimeoutMs(sessionTimeoutMs, 'sessionTimeoutMs', DEFAULT_SESSION_TIMEOUT_MS),
    ),
  };
}

/** The protocol carries the session timeout as whole milliseconds. */
function wholeMs(ms: number): number {
  if (!Number.isInteger(ms))
    throw new InvalidArgumentError('sessionTimeoutMs', `must be whole milliseconds, got ${ms}`);
  return ms;
}
