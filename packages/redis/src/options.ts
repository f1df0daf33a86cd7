/**
 * Options of `connect('redis://…' | 'rediss://…' | 'redlock://…', options)`, also accepted
 * as URL query parameters (`?commandTimeoutMs=1000&tls=true`), and of the bring-your-own-client
 * constructors. Checked before any I/O.
 * @module
 */
import { type ConnectOptions, InvalidArgumentError, validateName } from '@lockstep/core';
import { optionNames, rejectUnknownOptions, validateBoolean, validateTimeoutMs } from '@lockstep/core/driver';

/** How long a release keeps the lock reserved for other coordinators' waiters. */
export const DEFAULT_HANDOFF_MS = 100;
/** Default clock-drift factor (as in the Redlock description and node-redlock). */
export const DEFAULT_DRIFT_FACTOR = 0.01;

/** Options of `redisCoordinator(client, options)`. */
export interface RedisCoordinatorOptions {
  /** Namespace for every key (see the README's key layout). Default `"lockstep"`. */
  prefix?: string;
  /**
   * Single instance only: after a release while other coordinators wait, the lock stays
   * reserved for them this long, so a waiter rather than the releaser gets it next.
   * Default 100 ms; 0 turns the handoff off (whoever's SET arrives first wins).
   */
  handoffMs?: number;
}

/** Options of `redlockCoordinator(clients, options)`. */
export interface RedlockCoordinatorOptions {
  /** Namespace for every key. Default `"lockstep"`. */
  prefix?: string;
  /** Clock drift allowed per ms of lease. Default 0.01 (plus 2 ms). */
  driftFactor?: number;
}

/** Options understood by the Redis adapter's `connect()`. */
export interface RedisConnectOptions
  extends ConnectOptions,
    RedisCoordinatorOptions,
    RedlockCoordinatorOptions {
  /** How long connecting may take before `BackendUnavailableError`. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long one command may wait for its reply. Default 2000 ms. Bounds how long a
   * paused or partitioned server can stall an acquire attempt, a renewal or a release.
   */
  commandTimeoutMs?: number;
  /** Use TLS (implied by `rediss://`; for `redlock://` it applies to every instance). */
  tls?: boolean;
}

declare module '@lockstep/core' {
  /** `connect('redis://…' | 'rediss://…' | 'redlock://…', options)` takes {@link RedisConnectOptions}. */
  interface ConnectOptionsByScheme {
    redis: RedisConnectOptions;
    rediss: RedisConnectOptions;
    redlock: RedisConnectOptions;
  }
}

/** Every option name of {@link RedisConnectOptions}; anything else is rejected. */
export const REDIS_OPTION_NAMES = optionNames<RedisConnectOptions>()([
  'prefix',
  'connectTimeoutMs',
  'commandTimeoutMs',
  'tls',
  'driftFactor',
  'handoffMs',
]);

/** Every option name of {@link RedisCoordinatorOptions}. */
export const REDIS_COORDINATOR_OPTION_NAMES = optionNames<RedisCoordinatorOptions>()(['prefix', 'handoffMs']);

/** Every option name of {@link RedlockCoordinatorOptions}. */
export const REDLOCK_COORDINATOR_OPTION_NAMES = optionNames<RedlockCoordinatorOptions>()([
  'prefix',
  'driftFactor',
]);

/** Validated, defaulted options. */
export interface ResolvedOptions {
  readonly prefix: string | undefined;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly tls: boolean;
  readonly driftFactor: number;
  readonly handoffMs: number;
}

/**
 * @param known the option names the caller accepts (`connect()`'s by default).
 * @throws InvalidArgumentError for a malformed or unknown option.
 */
export function resolveOptions(
  options: RedisConnectOptions,
  known: readonly string[] = REDIS_OPTION_NAMES,
  where = 'redis:// options',
): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  rejectUnknownOptions(options, known, where);
  return {
    prefix: options.prefix === undefined ? undefined : validateName(options.prefix, 'prefix'),
    connectTimeoutMs: validateTimeoutMs(options.connectTimeoutMs, 'connectTimeoutMs', 5_000),
    commandTimeoutMs: validateTimeoutMs(options.commandTimeoutMs, 'commandTimeoutMs', 2_000),
    tls: validateBoolean(options.tls, 'tls', false),
    driftFactor: driftFactor(options.driftFactor),
    handoffMs: handoffMs(options.handoffMs),
  };
}

function driftFactor(value: unknown): number {
  if (value === undefined) return DEFAULT_DRIFT_FACTOR;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 0.5) {
    throw new InvalidArgumentError('driftFactor', `must be a number in [0, 0.5), got ${String(value)}`);
  }
  return value;
}

function handoffMs(value: unknown): number {
  if (value === undefined) return DEFAULT_HANDOFF_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 60_000) {
    throw new InvalidArgumentError('handoffMs', `must be an integer from 0 to 60000, got ${String(value)}`);
  }
  return value;
}
