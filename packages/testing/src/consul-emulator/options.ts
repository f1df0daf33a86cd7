import { type EmulatorClock, realClock } from './clock.js';

/** Options for {@link startConsulEmulator}. Every field is optional. */
export interface ConsulEmulatorOptions {
  /** Interface to listen on. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /**
   * When a TTL session is invalidated, as a multiple of its TTL after the last create or renew.
   * Consul's Sessions overview only promises "not before the TTL" and session.mdx warns it may take
   * up to twice the TTL, so the allowed range is 1–2. Default 2: the Consul server waits exactly
   * 2 × TTL, and a client must be correct at both ends of the range anyway.
   */
  invalidationFactor?: number;
  /**
   * The smallest session TTL accepted, in ms. Mirrors the documented agent option `session_ttl_min`
   * (default 10 s). Lower it to exercise TTL expiry quickly; the upper bound stays 86400 s.
   */
  sessionTtlMinMs?: number;
  /**
   * Reject KV keys that newer Consul agents reject by default (path-traversal segments, encoded
   * traversal, leading or trailing whitespace). Mirrors the agent option `disable_kv_key_validation`
   * (inverted). Default `true`.
   */
  kvKeyValidation?: boolean;
  /** Time source for TTL invalidation and lock-delay; tests inject a manual clock. Default: real time. */
  clock?: EmulatorClock;
}

/** Thrown for an option outside its documented range; nothing is started. */
export class ConsulEmulatorOptionError extends RangeError {
  readonly code = 'INVALID_ARGUMENT';

  constructor(message: string) {
    super(message);
    this.name = 'ConsulEmulatorOptionError';
  }
}

export interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly invalidationFactor: number;
  readonly sessionTtlMinMs: number;
  readonly sessionTtlMaxMs: number;
  readonly kvKeyValidation: boolean;
  readonly clock: EmulatorClock;
}

/** session.mdx › Create Session › TTL: between 10s and 86400s. */
export const DEFAULT_SESSION_TTL_MIN_MS = 10_000;
export const SESSION_TTL_MAX_MS = 86_400_000;

export function resolveOptions(options: ConsulEmulatorOptions): ResolvedOptions {
  const invalidationFactor = options.invalidationFactor ?? 2;
  if (!(typeof invalidationFactor === 'number' && invalidationFactor >= 1 && invalidationFactor <= 2)) {
    throw new ConsulEmulatorOptionError(
      `invalidationFactor must be a number from 1 to 2 (Consul invalidates between TTL and 2 × TTL), got ${String(invalidationFactor)}`,
    );
  }
  const sessionTtlMinMs = options.sessionTtlMinMs ?? DEFAULT_SESSION_TTL_MIN_MS;
  if (!(Number.isFinite(sessionTtlMinMs) && sessionTtlMinMs > 0 && sessionTtlMinMs <= SESSION_TTL_MAX_MS)) {
    throw new ConsulEmulatorOptionError(
      `sessionTtlMinMs must be a positive number of milliseconds up to ${SESSION_TTL_MAX_MS}, got ${String(sessionTtlMinMs)}`,
    );
  }
  const port = options.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new ConsulEmulatorOptionError(`port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') {
    throw new ConsulEmulatorOptionError('host must be a non-empty string');
  }
  return {
    host,
    port,
    invalidationFactor,
    sessionTtlMinMs,
    sessionTtlMaxMs: SESSION_TTL_MAX_MS,
    kvKeyValidation: options.kvKeyValidation ?? true,
    clock: options.clock ?? realClock,
  };
}
