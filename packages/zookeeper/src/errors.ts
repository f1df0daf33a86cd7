/**
 * ZooKeeper's error replies, the few codes lockstep branches on, and the edge where anything
 * else becomes a lockstep error.
 * @module
 */
import type { LockstepError } from '@lockstep/core';
import { backendFailure, SessionLostError } from '@lockstep/core/driver';
import type { RawError } from './raw.js';

/** ZooKeeper's error codes (the client's `Exception.*`). */
export const Code = {
  CONNECTION_LOSS: -4,
  OPERATION_TIMEOUT: -7,
  NO_NODE: -101,
  BAD_VERSION: -103,
  NODE_EXISTS: -110,
  SESSION_EXPIRED: -112,
} as const;

/** A ZooKeeper error reply (or a connection failure) for one request. */
export class ZkError extends Error {
  /** ZooKeeper's code, e.g. -101 (NO_NODE); `NaN` for a failure of the client itself. */
  readonly code: number;
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZkError';
    this.code = code;
  }
}

/** Wraps what the client passed to a callback. */
export function fromRaw(error: RawError, what: string): ZkError {
  const code = 'getCode' in error ? error.getCode() : Number.NaN;
  const name = 'getName' in error ? error.getName() : String(error);
  return new ZkError(code, `${what}: ${name}`, { cause: error });
}

/** Whether `error` is ZooKeeper's reply with `code`. */
export function hasCode(error: unknown, code: number): boolean {
  return error instanceof ZkError && error.code === code;
}

/**
 * Whether the request's outcome is unknown because the connection failed or the session was
 * given up (the server may or may not have applied it), as opposed to a definite answer.
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof SessionLostError) return true;
  return (
    error instanceof ZkError &&
    (error.code === Code.CONNECTION_LOSS ||
      error.code === Code.OPERATION_TIMEOUT ||
      error.code === Code.SESSION_EXPIRED)
  );
}

/** `error` as a lockstep error naming what failed (`BackendUnavailableError` unless it already is one). */
export function unavailable(doing: string, error: unknown): LockstepError {
  return backendFailure('zookeeper', doing, error);
}
