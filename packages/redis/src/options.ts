/**
 * Options of `connect('redis://…' | 'rediss://…' | 'redlock://…', options)`, also accepted
 * as URL query parameters (`?commandTimeoutMs=1000&tls=true`). Checked before any I/O.
 * @module
 */
import { type ConnectOptions, InvalidArgumentError, optionNames, rejectUnknownOptions } from '@lockstep/core';
import { DEFAULT_DRIFT_FACTOR } from './redlock.js';
import { DEFAULT_HANDOFF_MS } from './single.js';

/** Options understood by the Redis adapter. */
export interface RedisConnectOptions extends ConnectOptions {
  /** Namespace for every key (see the README's key layout). Default `"lockstep"`. */
  prefix?: string;
  /** How long connecting may take before `BackendUnavailableError`. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long one command may wait for its reply. Default 2000 ms. Bounds how long a
   * paused or partitioned server can stall an acquire attempt, a renewal or a release.
   */
  commandTimeoutMs?: number;
  /** Use TLS (implied by `rediss://`; for `redlock://` it applies to every instance). */
  tls?: boolean;
  /** Redlock only: clock drift allowed per ms of lease. Default 0.01 (plus 2 ms). */
  driftFactor?: number;
  /**
   * Single instance only: after a release while other coordinators wait, the lock stays
   * reserved for them this long, so a waiter rather than the releaser gets it next.
   * Default 100 ms; 0 turns the handoff off (whoever's SET arrives first wins).
   */
  handoffMs?: number;
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

/** Validated, defaulted options. */
export interface ResolvedOptions {
  readonly prefix: string | undefined;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly tls: boolean;
  readonly driftFactor: number;
  readonly handoffMs: number;
}

/** @throws InvalidArgumentError for a malformed option. */
export function resolveOptions(options: RedisConnectOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  rejectUnknownOptions(options, REDIS_OPTION_NAMES, 'redis:// options');
  const prefix = options.prefix;
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw new InvalidArgumentError('prefix', `must be a string, got ${typeof prefix}`);
  }
  return {
    prefix,
    connectTimeoutMs: positiveMs(options.connectTimeoutMs, 'connectTimeoutMs', 5_000),
    commandTimeoutMs: positiveMs(options.commandTimeoutMs, 'commandTimeoutMs', 2_000),
    tls: bool(options.tls, 'tls'),
    driftFactor: driftFactor(options.driftFactor),
    handoffMs: handoffMs(options.handoffMs),
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
