/**
 * ZooKeeper error codes, the few lockstep branches on, and the mapping of everything else to
 * `BackendUnavailableError` at the driver's edge.
 * @module
 */
import { BackendUnavailableError, LockstepError } from '@lockstep/core';
import type { RawException } from './raw.js';

/** ZooKeeper's error codes (the client's `Exception.*`). */
export const Code = {
  CONNECTION_LOSS: -4,
  OPERATION_TIMEOUT: -7,
  NO_NODE: -101,
  BAD_VERSION: -103,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
} as const;

/** A ZooKeeper error reply (or a connection failure) for one request. */
export class ZkError extends Error {
  /** ZooKeeper's code, e.g. -101 (NO_NODE). */
  readonly code: number;
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZkError';
    this.code = code;
  }
}

/** Wraps what the client passed to a callback. */
export function fromRaw(error: RawException, what: string): ZkError {
  const code = typeof error.getCode === 'function' ? error.getCode() : Number.NaN;
  const name = typeof error.getName === 'function' ? error.getName() : String(error);
  return new ZkError(code, `${what}: ${name}`, { cause: error });
}

/** Whether `error` is ZooKeeper's reply with `code`. */
export function hasCode(error: unknown, code: number): boolean {
  return error instanceof ZkError && error.code === code;
}

/**
 * Whether the request's outcome is unknown because the connection failed (the server may or
 * may not have applied it), as opposed to a definite answer.
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof BackendUnavailableError) return true;
  return (
    error instanceof ZkError &&
    (error.code === Code.CONNECTION_LOSS ||
      error.code === Code.OPERATION_TIMEOUT ||
      error.code === Code.SESSION_EXPIRED)
  );
}

/** `error` as a lockstep error: lockstep errors pass through, the rest become BackendUnavailableError. */
export function unavailable(what: string, error: unknown): Error {
  if (error instanceof LockstepError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new BackendUnavailableError('zookeeper', `${what} failed: ${detail}`, { cause: error });
}
