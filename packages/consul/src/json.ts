/**
 * Consul's JSON, read and written exactly. Indexes and `Flags` are unsigned 64-bit integers: the
 * lock flag of api/lock.go (`0x2ddccbc058a50c18`) does not fit a JavaScript number, and fencing
 * tokens must be exact, so those fields become bigints here and are written back as bare digits.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';

/** A KV entry as Consul reports it (kv.mdx › Read Key, txn.mdx › results). */
export interface KvEntry {
  readonly key: string;
  /** The holding session, `''` when the key is not locked. */
  readonly session: string;
  readonly flags: bigint;
  readonly lockIndex: bigint;
  readonly createIndex: bigint;
  readonly modifyIndex: bigint;
  /** Decoded value bytes (empty when Consul sent `null`). */
  readonly value: Buffer;
}

const UINT64_FIELDS = /"(Flags|LockIndex|CreateIndex|ModifyIndex)"\s*:\s*(\d+)/g;

/**
 * Parses a Consul JSON body with the uint64 fields kept as digit strings. Safe: inside a JSON
 * string every `"` is escaped, so `"Flags":` followed by digits can only be a real member.
 */
export function parseConsulJson(text: string): unknown {
  return JSON.parse(text.replace(UINT64_FIELDS, '"$1":"$2"'));
}

/** A uint64 field read by {@link parseConsulJson} (absent or null counts as 0). */
function uint64(value: unknown, field: string): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw malformed(`${field} is not an unsigned integer: ${JSON.stringify(value)}`);
}

/** Turns one entry object of a Consul answer into a {@link KvEntry}. */
export function kvEntry(raw: unknown): KvEntry {
  if (typeof raw !== 'object' || raw === null) throw malformed('a KV entry is not an object');
  const e = raw as Record<string, unknown>;
  if (typeof e.Key !== 'string') throw malformed('a KV entry has no Key');
  return {
    key: e.Key,
    session: typeof e.Session === 'string' ? e.Session : '',
    flags: uint64(e.Flags, 'Flags'),
    lockIndex: uint64(e.LockIndex, 'LockIndex'),
    createIndex: uint64(e.CreateIndex, 'CreateIndex'),
    modifyIndex: uint64(e.ModifyIndex, 'ModifyIndex'),
    value: typeof e.Value === 'string' ? Buffer.from(e.Value, 'base64') : Buffer.alloc(0),
  };
}

/** Every entry of a `GET /v1/kv/<prefix>?recurse` answer, in Consul's key order. */
export function entryList(text: string): KvEntry[] {
  const parsed = parseConsulJson(text);
  if (!Array.isArray(parsed)) throw malformed('expected an array of KV entries');
  return parsed.map(kvEntry);
}

/** The single entry of a `GET /v1/kv/<key>` answer. */
export function singleEntry(text: string): KvEntry {
  const parsed = parseConsulJson(text);
  if (!Array.isArray(parsed) || parsed.length === 0) throw malformed('expected a one-element array');
  return kvEntry(parsed[0]);
}

const UINT64_MARK = /"@uint64:(\d+)"/g;

/** A uint64 to embed in {@link stringifyConsulJson} output as a bare number. */
export function uint64Literal(value: bigint): string {
  return `@uint64:${value}`;
}

/**
 * JSON.stringify that writes {@link uint64Literal} markers as bare digits (Go decodes uint64 fields
 * only from numbers). Our keys and base64 values can never contain the marker text.
 */
export function stringifyConsulJson(value: unknown): string {
  return JSON.stringify(value).replace(UINT64_MARK, '$1');
}

/** `JSON.parse(text)`, or `undefined` when `text` is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function malformed(detail: string): BackendUnavailableError {
  return new BackendUnavailableError('consul', `unexpected answer from Consul: ${detail}`);
}
