/**
 * Where a lock lives in PostgreSQL — the one place that maps a lock to its advisory key and to
 * the row that records its name.
 *
 * - A lockstep lock uses the 64-bit advisory key `hash64(prefix, name)` (SHA-256, see core).
 *   Two names may, with astronomically small probability, share a key: they then contend for
 *   one advisory lock (extra waiting, never two holders), and their fencing tokens stay
 *   correct because tokens come from one sequence for every grant. The full `(prefix, name)` is
 *   recorded beside the key in `lockstep_locks`, where such a sharing shows.
 * - A native lock (`LockOptions.native`) uses exactly the advisory key the user gave — a bigint
 *   (`pg_advisory_lock(bigint)`) or a pair of int4 (`pg_advisory_lock(int4, int4)`, a separate key
 *   space in PostgreSQL) — so plain SQL and other clients taking that key exclude lockstep and
 *   the other way round. Its registry row is keyed by the advisory key alone (namespace `''`,
 *   which no lockstep prefix can be), whatever the coordinator's prefix.
 * @module
 */
import {
  hash64,
  InvalidArgumentError,
  type LockRef,
  type NativeLockLocation,
  validateName,
} from '@lockstep/core';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** An advisory lock key in one of PostgreSQL's two key spaces. */
export type AdvisoryKey =
  | { readonly kind: 'bigint'; readonly key: bigint }
  | { readonly kind: 'pair'; readonly key1: number; readonly key2: number };

/** Everything the SQL needs to take, check and fence one lock. */
export interface LockPlacement {
  readonly advisory: AdvisoryKey;
  /**
   * Registry row identity: the coordinator's prefix, encoded (`encodeName`: ASCII, injective, so
   * a name holding NUL — which PostgreSQL text cannot store — still has a row), or `''` for
   * native keys.
   */
  readonly namespace: string;
  /** Registry row identity: the lock's full name, encoded, or the advisory key's text for native keys. */
  readonly name: string;
  /** How `pg_locks` shows the key, as `classid/objid/objsubid` (for the health check). */
  readonly pgLocks: string;
  /** Local identity of the advisory lock within one session (equal placements → equal ids). */
  readonly id: string;
}

/** How `pg_locks` shows an advisory lock: `classid`, `objid` (as unsigned oids) and `objsubid`. */
export interface PgLocksIdentity {
  readonly classid: string;
  readonly objid: string;
  readonly objsubid: 1 | 2;
}

// Applications often call coord.lock(name) for every use, so the cache is keyed by what the
// placement depends on, not by the ref object; FIFO-bounded so that a stream of one-off names
// cannot grow it without limit. Equal keys give the same placement object (the lock driver
// remembers registered names by it).
const PLACEMENT_CACHE_SIZE = 4096;
const placements = new Map<string, LockPlacement>();

/** Maps a lock to its advisory key and registry row (cached: one SHA-256 per name, not per acquire). */
export function placeLock(ref: LockRef): LockPlacement {
  const native = ref.native;
  const cacheKey =
    native === undefined
      ? `n${ref.prefix.length}:${ref.prefix}${ref.name}`
      : `v${typeof native === 'bigint' ? native : `${native[0]},${native[1]}`}`;
  let placement = placements.get(cacheKey);
  if (!placement) {
    placement = computePlacement(ref);
    if (placements.size >= PLACEMENT_CACHE_SIZE) placements.delete(placements.keys().next().value!);
    placements.set(cacheKey, placement);
  }
  return placement;
}

function computePlacement(ref: LockRef): LockPlacement {
  if (ref.native === undefined) {
    const key = hash64(ref.prefix, ref.name);
    const advisory: AdvisoryKey = { kind: 'bigint', key };
    return {
      advisory,
      namespace: ref.prefixSegment,
      name: ref.segment,
      id: advisoryText(key),
      pgLocks: pgLocksText(pgLocksIdentity(advisory)),
    };
  }
  const advisory = parseNative(ref.native);
  const text = advisoryKeyText(advisory);
  return { advisory, namespace: '', name: text, id: text, pgLocks: pgLocksText(pgLocksIdentity(advisory)) };
}

/** The advisory key as text: `"42"` or `"1,2"` (distinct for the two key spaces). */
export function advisoryKeyText(key: AdvisoryKey): string {
  return key.kind === 'bigint' ? advisoryText(key.key) : `${key.key1},${key.key2}`;
}

function advisoryText(key: bigint): string {
  return key.toString();
}

/**
 * Validates a native location: a bigint in the signed 64-bit range, or a pair of integers in
 * the int4 range. Strings and plain numbers are refused (a number above 2^53 would silently
 * name a different key), with a message saying what to pass instead.
 * @throws InvalidArgumentError
 */
export function parseNative(native: NativeLockLocation): AdvisoryKey {
  if (typeof native === 'bigint') {
    if (native < INT64_MIN || native > INT64_MAX) {
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
    const [key1, key2] = native as readonly unknown[];
    for (const [i, k] of [key1, key2].entries()) {
      if (typeof k !== 'number' || !Number.isInteger(k) || k < INT32_MIN || k > INT32_MAX) {
        throw new InvalidArgumentError(
          'native',
          `key ${i + 1} of the pair must be an int4 integer, got ${String(k)}`,
        );
      }
    }
    return { kind: 'pair', key1: key1 as number, key2: key2 as number };
  }
  throw new InvalidArgumentError(
    'native',
    `a PostgreSQL advisory key is a bigint (e.g. 42n) or a pair of int4 ([1, 2]), got ${describe(native)}`,
  );
}

/** How `pg_locks` reports `key` (for the health check). */
export function pgLocksIdentity(key: AdvisoryKey): PgLocksIdentity {
  if (key.kind === 'bigint') {
    const unsigned = BigInt.asUintN(64, key.key);
    return { classid: String(unsigned >> 32n), objid: String(unsigned & 0xffffffffn), objsubid: 1 };
  }
  return { classid: String(key.key1 >>> 0), objid: String(key.key2 >>> 0), objsubid: 2 };
}

/** `classid/objid/objsubid`: how the health check's query reports each held advisory lock. */
export function pgLocksText(identity: PgLocksIdentity): string {
  return `${identity.classid}/${identity.objid}/${identity.objsubid}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number') return `the number ${value} (pass ${value}n)`;
  return typeof value;
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
