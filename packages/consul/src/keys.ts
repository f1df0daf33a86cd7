/**
 * Where locks and counters live in Consul's KV store — the whole key layout, in one place.
 *
 * ```
 * <prefix>/lock/<name>       a lock: Session = holder, Value = the holder's owner id
 * <prefix>/counter/<name>    a counter: Value = the decimal value
 * <native>/.lock             a lock at a native location (`consul lock <native>`, api/lock.go)
 * <prefix>/semaphore/<name>/  a semaphore, laid out as api/semaphore.go lays one out:
 *     .lock                   { Limit, Holders: { <session>: true } }, changed only by CAS
 *     <session>               one contender (waiting or holding), acquired with its session
 * <native>/                   a semaphore at a native location (`consul lock -n N <native>`)
 * <prefix>/election/<name>   an election: Session = the leader's, Value = its proclaimed value
 * <prefix>/rwlock/<name>/    a read-write lock:
 *     <session>               one contender (`read <owner>` or `write <owner>`), acquired with its session
 * ```
 *
 * Not core's `encodeName`: newer agents validate KV keys (`validateKVKey`, on by default) and accept
 * only `[A-Za-z0-9,._/-]`, no `..` beside a slash, no "web" file extension such as `.js`. Our
 * segments keep `[A-Za-z0-9_-]` verbatim and write every other UTF-8 byte as `,XX` (`,` included),
 * so they hold no dot, slash or percent sign at all: injective, and accepted by every agent version.
 * @module
 */
import { InvalidArgumentError } from '@lockstep/core';
import type { CounterRef, LockRef, ReadWriteRef, SemaphoreRef } from '@lockstep/core/driver';

const encoder = new TextEncoder();
const VERBATIM = /^[A-Za-z0-9_-]$/;

/** Encodes any name as one KV path segment of `[A-Za-z0-9_,-]` (injective, reversible). */
export function keySegment(name: string): string {
  let out = '';
  for (const byte of encoder.encode(name)) {
    const ch = String.fromCharCode(byte);
    out += VERBATIM.test(ch) ? ch : `,${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Inverse of {@link keySegment}. */
export function decodeKeySegment(segment: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    if (segment[i] === ',') {
      bytes.push(Number.parseInt(segment.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(segment.charCodeAt(i));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** The key of a lock: its native location's `.lock` key, or `<prefix>/lock/<name>`. */
export function lockKey(ref: LockRef): string {
  if (typeof ref.native === 'string') return nativeLockKey(ref.native);
  return `${keySegment(ref.prefix)}/lock/${keySegment(ref.name)}`;
}

/** The key of a counter (a different key space from locks: lock `x` and counter `x` never collide). */
export function counterKey(ref: CounterRef): string {
  return `${keySegment(ref.prefix)}/counter/${keySegment(ref.name)}`;
}

/**
 * The KV prefix of a semaphore, without a trailing slash: its native location, or
 * `<prefix>/semaphore/<name>` (a different key space from locks and counters). Its keys are this
 * prefix, a slash, and `.lock` or a session ID.
 */
export function semaphorePrefix(ref: SemaphoreRef): string {
  if (typeof ref.native === 'string') return normaliseNativePrefix(ref.native);
  return `${keySegment(ref.prefix)}/semaphore/${keySegment(ref.name)}`;
}

/** The key of an election (apart from the lock, semaphore, read-write lock and counter of its name). */
export function electionKey(ref: LockRef): string {
  return `${keySegment(ref.prefix)}/election/${keySegment(ref.name)}`;
}

/**
 * The KV prefix of a read-write lock, without a trailing slash (apart from every other primitive
 * of its name). Its keys are this prefix, a slash, and a session ID.
 */
export function readWritePrefix(ref: ReadWriteRef): string {
  return `${keySegment(ref.prefix)}/rwlock/${keySegment(ref.name)}`;
}

/** The coordination key of the semaphore at `prefix`: `<prefix>/.lock` (api.DefaultSemaphoreKey). */
export function semaphoreLockKey(prefix: string): string {
  return `${prefix}/${NATIVE_LOCK_SUFFIX}`;
}

/** The contender key of `session` in the semaphore at `prefix`: `<prefix>/<session>`. */
export function contenderKey(prefix: string, session: string): string {
  return `${prefix}/${session}`;
}

/**
 * `consul lock` keeps its lock at `path.Join(prefix, ".lock")` (api.DefaultSemaphoreKey), so a lock
 * and a semaphore at one prefix share the key and their flags tell them apart.
 */
export const NATIVE_LOCK_SUFFIX = '.lock';

/**
 * Checks a native location (a KV prefix as given to `consul lock`) and returns it without leading
 * and trailing slashes, as the Go client strips them. Refuses what Consul's key validation refuses
 * (other characters, `..` beside a slash), and empty or `.` segments, which path.Join would resolve
 * to a different key.
 * @throws InvalidArgumentError
 */
export function normaliseNativePrefix(native: unknown): string {
  if (typeof native !== 'string') {
    const what = 'must be a Consul KV prefix (a string, as given to `consul lock`)';
    throw new InvalidArgumentError('native', `${what}, got ${typeof native}`);
  }
  const refuse = (why: string) => new InvalidArgumentError('native', `${JSON.stringify(native)}: ${why}`);
  const trimmed = native.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') throw refuse('must name a KV prefix, got an empty one');
  if (trimmed.length > 2048) throw refuse('must be at most 2048 characters');
  if (!/^[A-Za-z0-9,._/-]+$/.test(trimmed)) {
    throw refuse('Consul KV keys may only contain letters, digits and , . _ / -');
  }
  const bad = (s: string) => s === '' || s === '.' || s.startsWith('..') || s.endsWith('..');
  if (trimmed.split('/').some(bad))
    throw refuse('empty or "." segment, or ".." at a segment\'s start or end');
  return trimmed;
}

/** The lock key of a native location: `<prefix>/.lock`. */
export function nativeLockKey(native: string): string {
  return `${normaliseNativePrefix(native)}/${NATIVE_LOCK_SUFFIX}`;
}

/**
 * The URL path of a KV key. Consul decodes the request path before it reads the key, so every
 * segment is percent-encoded (our own keys never need it; native ones may contain `,`).
 */
export function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}
