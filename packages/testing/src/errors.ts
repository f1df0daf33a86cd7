/**
 * Errors of @lockstep/testing. Each has a stable `code`; match on it or on `instanceof`.
 * @module
 */
import type { ServerKind } from './types.js';

/**
 * No source could provide the server: no `LOCKSTEP_TEST_<KIND>_URL`, no usable local binary,
 * no container runtime (and, for Consul, the emulator was excluded). `reason` lists why each
 * source was passed over; the message says it loudly, so a skipped test explains itself.
 */
export class ServerUnavailableError extends Error {
  readonly code = 'SERVER_UNAVAILABLE';
  readonly kind: ServerKind;
  /** One line per source that was tried and why it could not be used. */
  readonly reason: string;

  constructor(kind: ServerKind, reason: string) {
    super(`no ${kind} server available for tests:\n${reason}`);
    this.name = 'ServerUnavailableError';
    this.kind = kind;
    this.reason = reason;
  }
}

/**
 * A source was chosen but the server did not come up: the process exited, or it did not answer
 * a protocol request in time. This is a failure, never a reason to skip. The message ends with
 * the tail of the server's log.
 */
export class ServerStartError extends Error {
  readonly code = 'SERVER_START_FAILED';
  readonly kind: ServerKind;
  readonly logPath: string | undefined;

  constructor(kind: ServerKind, message: string, logPath?: string, options?: { cause?: unknown }) {
    super(`${kind}: ${message}`, options);
    this.name = 'ServerStartError';
    this.kind = kind;
    this.logPath = logPath;
  }
}

/**
 * A control method was called on a handle that cannot honour it: the server came from an env URL
 * (not ours to kill), or the handle was already stopped.
 */
export class ServerControlError extends Error {
  readonly code = 'SERVER_CONTROL';
  readonly kind: ServerKind;

  constructor(kind: ServerKind, message: string) {
    super(`${kind}: ${message}`);
    this.name = 'ServerControlError';
    this.kind = kind;
  }
}

/**
 * `LOCKSTEP_REQUIRE` names a backend that could not be provided: the run must fail instead of
 * skipping quietly.
 */
export class RequiredBackendError extends Error {
  readonly code = 'REQUIRED_BACKEND_UNAVAILABLE';
  readonly kind: ServerKind;

  constructor(kind: ServerKind, reason: string, options?: { cause?: unknown }) {
    super(`LOCKSTEP_REQUIRE lists ${kind}, but no ${kind} server could be provided:\n${reason}`, options);
    this.name = 'RequiredBackendError';
    this.kind = kind;
  }
}
