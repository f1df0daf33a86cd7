/**
 * Where locks and counters live in Consul's KV store — the whole key layout, in one place.
 *
 * ```
 * <prefix>/lock/<name>       a lock: Session = holder, Value = the holder's owner id
 * <prefix>/counter/<name>    a counter: Value = the decimal value
 * <native>/.lock             a lock at a native location (`consul lock <native>`, api/lock.go)
 * ```
 *
 * Why not core's `encodeName`: newer Consul agents validate KV keys on `/v1/kv` (the agent's
 * `validateKVKey`, on by default) and accept only `[A-Za-z0-9,._/-]`, refuse `..` next to a slash
 * or at either end, and refuse keys ending in a "web" file extension such as `.js` or `.json`.
 * `encodeName` output keeps `%`, `:`, `@`… verbatim, so it would be refused there. Our segments use
 * only `[A-Za-z0-9_-]` verbatim and write every other UTF-8 byte as `,XX` (hex, upper case; `,`
 * itself included), so they contain no dot, no slash and no percent sign at all: injective, and
 * accepted by every agent version.
 * @module
 */
import type { CounterRef, LockRef } from '@lockstep/core';
import { InvalidArgumentError } from '@lockstep/core';

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
 * `consul lock` keeps its lock at `path.Join(prefix, ".lock")` (api.DefaultSemaphoreKey), so a lock
 * and a semaphore at one prefix collide and the flags tell them apart. The Go client also strips a
 * leading `/` from KV keys. We accept the same prefixes, normalised the same way.
 */
export const NATIVE_LOCK_SUFFIX = '.lock';

const NATIVE_CHARS = /^[A-Za-z0-9,._/-]+$/;
const MAX_NATIVE_LENGTH = 2048;

/**
 * Checks a native location (a KV prefix as given to `consul lock`) and returns it normalised:
 * leading and trailing slashes removed. Refuses what Consul's key validation would refuse (other
 * characters, `..` beside a slash), empty segments, and `.` segments (path.Join would resolve them
 * to a different key).
 * @throws InvalidArgumentError
 */
export function normaliseNativePrefix(native: unknown): string {
  if (typeof native !== 'string') {
    throw new InvalidArgumentError(
      'native',
      `must be a Consul KV prefix (a string, as given to \`consul lock\`), got ${typeof native}`,
    );
  }
  const trimmed = native.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') throw new InvalidArgumentError('native', 'must name a KV prefix, got an empty one');
  if (trimmed.length > MAX_NATIVE_LENGTH) {
    throw new InvalidArgumentError('native', `must be at most ${MAX_NATIVE_LENGTH} characters`);
  }
  if (!NATIVE_CHARS.test(trimmed)) {
    throw new InvalidArgumentError(
      'native',
      `${JSON.stringify(native)}: Consul KV keys may only contain letters, digits and , . _ / -`,
    );
  }
  for (const segment of trimmed.split('/')) {
    if (segment === '' || segment === '.' || segment.startsWith('..') || segment.endsWith('..')) {
      // Consul refuses `..` next to a slash as path traversal; path.Join would resolve `.` away.
      throw new InvalidArgumentError(
        'native',
        `${JSON.stringify(native)}: empty or "." segment, or ".." at a segment's start or end`,
      );
    }
  }
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
