/**
 * Lock and counter names: validation and injective encodings shared by every adapter.
 * @module
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';

/** Longest accepted name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;

const encoder = new TextEncoder();

/**
 * Accepts any non-empty string of at most {@link MAX_NAME_BYTES} UTF-8 bytes that is
 * well-formed Unicode (lone surrogates cannot round-trip through UTF-8, so two different
 * names could collide — they are rejected).
 */
export function validateName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string') throw new InvalidArgumentError(what, `must be a string, got ${typeof name}`);
  if (name.length === 0) throw new InvalidArgumentError(what, 'must not be empty');
  if (!name.isWellFormed()) throw new InvalidArgumentError(what, 'contains a lone UTF-16 surrogate');
  const bytes = encoder.encode(name).length;
  if (bytes > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(what, `is ${bytes} UTF-8 bytes; at most ${MAX_NAME_BYTES} are allowed`);
  }
  return name;
}

// Kept verbatim: letters, digits and punctuation that is safe in Redis keys, etcd keys,
// ZooKeeper path segments, Consul KV paths and file names. Everything else, `%` itself
// included, becomes %XX of its UTF-8 bytes, so decoding is unambiguous: the map is injective.
const VERBATIM = /^[A-Za-z0-9_~:@!$&'()*+,;=.-]$/;

/**
 * Encodes a name as one path segment: no `/`, no NUL, never `.` or `..` (a leading dot is
 * escaped), ASCII only. Injective: distinct names always give distinct segments, so
 * `a/b` and `a%2Fb` stay different locks on every backend.
 */
export function encodeName(name: string): string {
  let out = '';
  for (const byte of encoder.encode(name)) {
    const ch = String.fromCharCode(byte);
    const escaped = byte >= 0x80 || !VERBATIM.test(ch) || (out.length === 0 && ch === '.');
    out += escaped ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : ch;
  }
  return out;
}

/** Inverse of {@link encodeName}. */
export function decodeName(segment: string): string {
  return decodeURIComponent(segment);
}

/**
 * A signed 64-bit key derived from SHA-256 of the parts (length-prefixed, so part
 * boundaries cannot shift). Used where a backend needs a fixed-width key (Postgres
 * advisory locks). Collisions are astronomically unlikely but possible: adapters store the
 * full name beside anything safety-relevant so a collision costs contention, never safety.
 */
export function hash64(...parts: string[]): bigint {
  const h = createHash('sha256');
  for (const part of parts) {
    const bytes = encoder.encode(part);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len);
    h.update(bytes);
  }
  return h.digest().readBigInt64BE(0);
}

/** Validates a namespace prefix: same rules as names. */
export function validatePrefix(prefix: unknown): string {
  return validateName(prefix, 'prefix');
}
