/**
 * Every error lockstep throws extends {@link LockstepError} and carries a stable
 * {@link LockstepError.code}. Match on `code` (or `instanceof`) — messages may change.
 *
 * `instanceof` works even when two copies of `@lockstep/core` are loaded (ESM and CJS,
 * or two versions), because class checks compare a branded code rather than identity.
 *
 * @module
 */

const BRAND = Symbol.for('lockstep.error');

/** Stable machine-readable error codes. */
export type LockstepErrorCode =
  | 'INVALID_ARGUMENT'
  | 'LOCK_TIMEOUT'
  | 'LOCK_LOST'
  | 'COUNTER_BOUND'
  | 'BACKEND_UNAVAILABLE'
  | 'UNSUPPORTED'
  | 'ADAPTER_NOT_INSTALLED';

/** Base class of every lockstep error. */
export class LockstepError extends Error {
  /** Stable code; never changes between releases. */
  readonly code: LockstepErrorCode;

  constructor(code: LockstepErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
    if (this === LockstepError) return true;
    const ownCode = (this as unknown as { expectedCode?: LockstepErrorCode }).expectedCode;
    return ownCode !== undefined && (value as unknown as LockstepError).code === ownCode;
  }
}

/**
 * A name, TTL, amount, URL or option is invalid. Thrown before any I/O: the backend
 * never sees the request and no state is left behind.
 */
export class InvalidArgumentError extends LockstepError {
  static readonly expectedCode = 'INVALID_ARGUMENT';
  /** The argument or option that was rejected. */
  readonly argument: string;
  constructor(argument: string, message: string) {
    super('INVALID_ARGUMENT', `${argument}: ${message}`);
    this.argument = argument;
  }
}

/** `acquire({ waitMs })` did not get the lock in time. Nothing is left queued. */
export class LockTimeoutError extends LockstepError {
  static readonly expectedCode = 'LOCK_TIMEOUT';
  readonly lockName: string;
  readonly waitedMs: number;
  constructor(lockName: string, waitedMs: number) {
    super('LOCK_TIMEOUT', `lock "${lockName}" was not acquired within ${waitedMs} ms`);
    this.lockName = lockName;
    this.waitedMs = waitedMs;
  }
}

/** Why a held lock stopped being ours. */
export type LockLossReason =
  /** The lease ran out (no renewal, or renewal arrived too late). */
  | 'expired'
  /** The backend says the lock is gone or held by another owner. */
  | 'stolen'
  /** The session/connection that carried the lock ended. */
  | 'session-lost'
  /** The backend could not be reached until the lease would have ended. */
  | 'unreachable'
  /** The coordinator was closed while the lock was held. */
  | 'closed';

/**
 * Ownership of a lock is gone (or can no longer be proven). Used as the reason of
 * `handle.signal`, and thrown by `extend()` on a lost handle.
 */
export class LockLostError extends LockstepError {
  static readonly expectedCode = 'LOCK_LOST';
  readonly lockName: string;
  readonly reason: LockLossReason;
  constructor(lockName: string, reason: LockLossReason, options?: { cause?: unknown }) {
    super('LOCK_LOST', `lock "${lockName}" was lost (${reason})`, options);
    this.lockName = lockName;
    this.reason = reason;
  }
}

/**
 * A counter operation would take the value outside its `min`/`max` bounds (or outside
 * the safe-integer range). Nothing was written.
 */
export class CounterBoundError extends LockstepError {
  static readonly expectedCode = 'COUNTER_BOUND';
  readonly counterName: string;
  /** The bound that would have been crossed. */
  readonly bound: 'min' | 'max';
  /** Its value. */
  readonly limit: number;
  /** The value the operation would have produced (may be outside the safe range). */
  readonly attempted: number;
  constructor(counterName: string, bound: 'min' | 'max', limit: number, attempted: number) {
    super(
      'COUNTER_BOUND',
      `counter "${counterName}": ${attempted} would cross ${bound} ${limit}; nothing was written`,
    );
    this.counterName = counterName;
    this.bound = bound;
    this.limit = limit;
    this.attempted = attempted;
  }
}

/**
 * The backend could not be reached or answered with a failure. `cause` holds the client
 * library's error. A dead address fails within `connectTimeoutMs`; it never hangs.
 */
export class BackendUnavailableError extends LockstepError {
  static readonly expectedCode = 'BACKEND_UNAVAILABLE';
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', `${backend}: ${message}`, options);
    this.backend = backend;
  }
}

/** The backend lacks a capability the call needs (see `coordinator.capabilities`). */
export class UnsupportedError extends LockstepError {
  static readonly expectedCode = 'UNSUPPORTED';
  readonly backend: string;
  readonly feature: string;
  constructor(backend: string, feature: string, why: string) {
    super('UNSUPPORTED', `${backend} does not support ${feature}: ${why}`);
    this.backend = backend;
    this.feature = feature;
  }
}

/** The URL names a known backend whose adapter package is not installed. */
export class AdapterNotInstalledError extends LockstepError {
  static readonly expectedCode = 'ADAPTER_NOT_INSTALLED';
  readonly scheme: string;
  /** The npm package to install, e.g. `@lockstep/redis`. */
  readonly packageName: string;
  /**
   * @param options.cause what the import threw. When the package was found but failed to
   *   load (a native module that was not built, a syntax error), the message says that
   *   instead of advising an install that would change nothing.
   */
  constructor(scheme: string, packageName: string, options?: { cause?: unknown }) {
    const failure = loadFailure(options?.cause, packageName);
    super(
      'ADAPTER_NOT_INSTALLED',
      failure === undefined
        ? `"${scheme}:" URLs need the ${packageName} adapter: npm install ${packageName}. ` +
            `If it is installed and your app is bundled (esbuild, webpack, Rollup, Vite), the bundler ` +
            `cannot see an adapter loaded by URL: import it once in your code (import '${packageName}').`
        : `"${scheme}:" URLs need the ${packageName} adapter, which is installed but failed to load: ${failure}`,
      options,
    );
    this.scheme = scheme;
    this.packageName = packageName;
  }
}

/** Why an installed package failed to load, or `undefined` when it was simply not found. */
function loadFailure(cause: unknown, packageName: string): string | undefined {
  if (!(cause instanceof Error)) return undefined;
  const code = (cause as { code?: unknown }).code;
  const notFound =
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && cause.message.includes(packageName);
  return notFound ? undefined : cause.message;
}
