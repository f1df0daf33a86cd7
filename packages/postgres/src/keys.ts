/**
 * Where a lock lives in PostgreSQL: its advisory key and the row that records its name.
 *
 * - A lockstep lock takes the 64-bit advisory key `hash64(prefix, name)` (SHA-256, see core).
 *   Two names may, with astronomically small probability, share a key: they then contend for
 *   one advisory lock (extra waiting, never two holders), and their tokens stay correct — one
 *   sequence serves every grant. The full `(prefix, name)` is recorded beside the key in
 *   `lockstep_locks`, where such a sharing shows.
 * - A native lock (`LockOptions.native`) takes exactly the key given — a bigint, or a pair of
 *   int4 (a separate key space) — so plain SQL on that key and lockstep exclude each other. Its
 *   registry row is keyed by the key alone (namespace `''`, which no prefix can be).
 * @module
 */
import {
  hash64,
  InvalidArgumentError,
  type LockRef,
  type NativeLockLocation,
  validateName,
} from '@lockstep/core';

const INT64 = 2n ** 63n;
const INT32 = 2 ** 31;

/** An advisory lock key in one of PostgreSQL's two key spaces. */
export type AdvisoryKey =
  | { readonly kind: 'bigint'; readonly key: bigint }
  | { readonly kind: 'pair'; readonly key1: number; readonly key2: number };

/** Everything the SQL needs to take, check and fence one lock. */
export interface LockPlacement {
  readonly advisory: AdvisoryKey;
  /**
   * Registry row: the coordinator's prefix, encoded (`encodeName`: ASCII and injective, so a
   * name holding NUL, which text cannot store, still has a row), or `''` for native keys.
   */
  readonly namespace: string;
  /** Registry row: the lock's name, encoded, or the advisory key's text for native keys. */
  readonly name: string;
  /** How `pg_locks` shows the key, `classid/objid/objsubid`: its identity within a session too. */
  readonly id: string;
}

// Applications often call coord.lock(name) for every use, so placements are cached by what
// they depend on, not by the ref object, in a FIFO-bounded map that a stream of one-off names
// cannot grow. Equal keys give the same placement object (the lock driver remembers
// registered names by it).
const PLACEMENT_CACHE_SIZE = 4096;
const placements = new Map<string, LockPlacement>();

/** Maps a lock to its advisory key and registry row (cached: one SHA-256 per name, not per acquire). */
export function placeLock(ref: LockRef): LockPlacement {
  const { native } = ref;
  const cacheKey =
    native === undefined
      ? `n${ref.prefix.length}:${ref.prefix}${ref.name}`
      : `v${typeof native === 'bigint' ? native : `${native[0]},${native[1]}`}`;
  let placement = placements.get(cacheKey);
  if (!placement) {
    const advisory: AdvisoryKey =
      native === undefined ? { kind: 'bigint', key: hash64(ref.prefix, ref.name) } : parseNative(native);
    const id = pgLocksText(advisory);
    const text = advisory.kind === 'bigint' ? advisory.key.toString() : `${advisory.key1},${advisory.key2}`;
    placement =
      native === undefined
        ? { advisory, namespace: ref.prefixSegment, name: ref.segment, id }
        : { advisory, namespace: '', name: text, id };
    if (placements.size >= PLACEMENT_CACHE_SIZE) placements.delete(placements.keys().next().value!);
    placements.set(cacheKey, placement);
  }
  return placement;
}

/**
 * Validates a native location: a bigint in the signed 64-bit range, or a pair of integers in
 * the int4 range. Strings and plain numbers are refused (a number above 2^53 would silently
 * name another key), with a message saying what to pass instead.
 * @throws InvalidArgumentError
 */
export function parseNative(native: NativeLockLocation): AdvisoryKey {
  if (typeof native === 'bigint') {
    if (native < -INT64 || native >= INT64) {
      throw new InvalidArgumentError('native', `advisory key ${native} is outside the signed 64-bit range`);
    }
    return { kind: 'bigint', key: native };
  }
  if (Array.isArray(native)) {
    if (native.length !== 2) {
      throw new InvalidArgumentError(
        'native',
        `a pair of int4 keys needs exactly 2 numbers, got ${native.length}`,
      );
    }
    for (const [i, k] of (native as readonly unknown[]).entries()) {
      if (typeof k !== 'number' || !Number.isInteger(k) || k < -INT32 || k >= INT32) {
        throw new InvalidArgumentError(
          'native',
          `key ${i + 1} of the pair must be an int4 integer, got ${String(k)}`,
        );
      }
    }
    return { kind: 'pair', key1: native[0] as number, key2: native[1] as number };
  }
  const what =
    typeof native === 'string'
      ? `the string ${JSON.stringify(native)}`
      : typeof native === 'number'
        ? `the number ${native} (pass ${native}n)`
        : typeof native;
  throw new InvalidArgumentError(
    'native',
    `a PostgreSQL advisory key is a bigint (e.g. 42n) or a pair of int4 ([1, 2]), got ${what}`,
  );
}

/** How `pg_locks` reports `key`: `classid` and `objid` as unsigned oids, `objsubid` 1 or 2. */
export function pgLocksIdentity(key: AdvisoryKey): { classid: string; objid: string; objsubid: 1 | 2 } {
  if (key.kind === 'pair')
    return { classid: String(key.key1 >>> 0), objid: String(key.key2 >>> 0), objsubid: 2 };
  const unsigned = BigInt.asUintN(64, key.key);
  return { classid: String(unsigned >> 32n), objid: String(unsigned & 0xffffffffn), objsubid: 1 };
}

function pgLocksText(key: AdvisoryKey): string {
  const { classid, objid, objsubid } = pgLocksIdentity(key);
  return `${classid}/${objid}/${objsubid}`;
}

/**
 * The advisory key lockstep takes for lock `name` of a coordinator with prefix `prefix`
 * (default `"lockstep"`): find it in `pg_locks` (`classid = key >> 32`, `objid = key & 0xffffffff`,
 * `objsubid = 1`) or take it from SQL with `pg_advisory_lock(key)`.
 * @throws InvalidArgumentError for an invalid name or prefix
 */
export function advisoryKeyOf(name: string, prefix = 'lockstep'): bigint {
  return hash64(validateName(prefix, 'prefix'), validateName(name));
}
