/**
 * Classifying etcd3 errors: which ones may be retried, which mean "the lease is gone", and
 * how they reach the user (always as a lockstep error with the original as `cause`).
 * @module
 */
import { BackendUnavailableError, type LockstepError } from '@lockstep/core';
import { backendFailure } from '@lockstep/core/driver';
import { isBrokenCircuitError } from 'cockatiel';
import { ClientClosedError, EtcdLeaseInvalidError, isRecoverableError } from 'etcd3';

/** `error` as the lockstep error of a failed `what` (`BackendUnavailableError` unless it already is one). */
export function unavailable(what: string, error: unknown): LockstepError {
  return backendFailure('etcd', what, error);
}

/** Whether `error` (or its cause) says the lease does not exist (expired or revoked). */
export function isLeaseNotFound(error: unknown): boolean {
  const inner = error instanceof BackendUnavailableError ? error.cause : error;
  if (inner instanceof EtcdLeaseInvalidError) return true;
  return inner instanceof Error && inner.message.includes('requested lease not found');
}

// Server answers that mean "not applied, or applied exactly as a retry would be" for an
// idempotent request: leader elections and overload.
const TRANSIENT_SERVER_MESSAGES = [
  'etcdserver: leader changed',
  'etcdserver: no leader',
  'etcdserver: request timed out',
  'etcdserver: too many requests',
  'etcdserver: server stopped',
];

/**
 * Whether an idempotent request (one whose repetition changes nothing: a guarded enqueue of
 * a unique key, a guarded delete, a read) may be sent again after `error`.
 */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof ClientClosedError) return false;
  if (isLeaseNotFound(error)) return false;
  if (isBrokenCircuitError(error) || isRecoverableError(error)) return true;
  return TRANSIENT_SERVER_MESSAGES.some((m) => error.message.includes(m));
}

/**
 * Whether `error` proves the request never reached a server (so even a non-idempotent
 * compare-and-swap may be sent again): the host's circuit was open, or no connection existed.
 */
export function neverSent(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (isBrokenCircuitError(error)) return true;
  return /No connection established|ECONNREFUSED|connect EHOSTUNREACH|Failed to connect/.test(error.message);
}
