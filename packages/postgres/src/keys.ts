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
 * - The other primitives hash their kind in as a third part (`hash64(prefix, name, 'rw')`), so
 *   lock `x`, read-write lock `x` and election `x` are three keys. A native read-write lock
 *   takes the key given, as a lock does: `pg_advisory_lock_shared(KEY)` in SQL is its reader.
 * - A semaphore is a family of keys (see {@link placeSemaphore}).
 * @module
 */
import { InvalidArgumentError, type NativeLockLocation, validateName } from '@lockstep/core';
import type { SemaphoreRef } from '@lockstep/core/driver';
import { hash64, type LockRef } from '@lockstep/core/driver';

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

/** The primitives that are one advisory lock: their keys never collide for one name. */
export type AdvisoryKind = 'lock' | 'rw' | 'election';

/**
 * Maps a lock (or a read-write lock, or an election) to its advisory key and registry row
 * (cached: one SHA-256 per name, not per acquire). Native locations are shared by every kind.
 */
export function placeLock(ref: LockRef, kind: AdvisoryKind = 'lock'): LockPlacement {
  const { native } = ref;
  const cacheKey =
    native === undefined
      ? `${kind}${ref.prefix.length}:${ref.prefix}${ref.name}`
      : `v${typeof native === 'bigint' ? native : `${native[0]},${native[1]}`}`;
  let placement = placements.get(cacheKey);
  if (!placement) {
    const hashed = kind === 'lock' ? hash64(ref.prefix, ref.name) : hash64(ref.prefix, ref.name, kind);
    const advisory: AdvisoryKey =
      native === undefined ? { kind: 'bigint', key: hashed } : parseNative(native);
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

/** `classid/objid/objsubid`: how `pg_locks` shows `key`, and its identity on a connection. */
export function pgLocksText(key: AdvisoryKey): string {
  const { classid, objid, objsubid } = pgLocksIdentity(key);
  return `${classid}/${objid}/${objsubid}`;
}

/** Slots a semaphore key family spans: a slot index only ever flips the low 31 bits of the base. */
export const MAX_SLOTS = 2 ** 31 - 1;

/** Bits of a count's bit length: every safe integer is at most 53 bits long. */
const LENGTH_BITS = 6;

/**
 * The advisory keys of one semaphore, all bigints hashed from `(prefix, name)` with a tag of
 * their own, so none is a lock's, a read-write lock's or an election's key:
 *
 * - `slots`: slot `i` is the key `slots # i` (XOR; `i` below {@link MAX_SLOTS}), taken
 *   exclusively by the permit that fills it. Permits are slots, so K slots admit K holders.
 * - `gate`: a transaction-scoped lock that serialises the grant statements of the semaphore.
 * - `held`: the count's markers, shared locks every holder keeps while it holds. A count is
 *   written in bits — the bits of its bit length, then its own bits below the leading one —
 *   and each bit is one of two keys, `(position, value)`. Two different counts differ in some
 *   position, so a holder of one always holds a key that a holder of the other would hold for
 *   the opposite value: `refusing` lists those opposite keys, and a grant that finds another
 *   session holding any of them meets a holder of another count. Each holder keeps every one of
 *   its markers for as long as it holds its slot, whatever order a dying session's locks are
 *   freed in, so no single marker's absence is ever mistaken for a free semaphore.
 * - `waiting`: a shared lock a coordinator's listener keeps while it has waiters for the
 *   semaphore, so a release notifies (a write) only when someone waits.
 */
export interface SemaphorePlacement {
  /** The semaphore's identity in this process (its slots' base as `pg_locks` shows it). */
  readonly id: string;
  readonly gate: bigint;
  readonly slots: bigint;
  readonly waiting: bigint;
  /**
   * The head of the line: held, exclusively, by the one waiter that is served next; the other
   * waiters queue for it in the server's lock queue, and a new attempt is refused while it is
   * held or queued for. Shared by every count.
   */
  readonly head: bigint;
  /** The markers of the declared count (as decimal texts, the statements' parameters). */
  readonly held: readonly string[];
  /** The markers a holder of any other count holds at least one of. */
  readonly refusing: readonly string[];
  /** `pg_locks` identities of {@link held}: what every holder keeps beside its slot. */
  readonly markers: readonly string[];
  /** The LISTEN channel a release notifies. */
  readonly channel: string;
  /** Slots this count spans. */
  readonly slotCount: number;
}

const semaphorePlacements = new Map<string, SemaphorePlacement>();

/** The keys of semaphore `ref` for its declared count (cached like lock placements). */
export function placeSemaphore(ref: SemaphoreRef): SemaphorePlacement {
  const cacheKey = `${ref.permits}:${ref.prefix.length}:${ref.prefix}${ref.name}`;
  let placement = semaphorePlacements.get(cacheKey);
  if (!placement) {
    const key = (...tags: string[]) => hash64(ref.prefix, ref.name, ...tags);
    const held: bigint[] = [];
    const refusing: bigint[] = [];
    const mark = (position: string, bit: number) => {
      held.push(key('semaphore-count', position, String(bit)));
      refusing.push(key('semaphore-count', position, String(1 - bit)));
    };
    const length = ref.permits.toString(2).length;
    for (let i = 0; i < LENGTH_BITS; i++) mark(`length-${i}`, (length >> i) & 1);
    // Past the length, a count's own bits below its leading one (which is always 1).
    const bits = BigInt(ref.permits);
    for (let i = 0; i < length - 1; i++) mark(`bit-${i}`, Number((bits >> BigInt(i)) & 1n));
    const slots = key('semaphore-slots');
    const waiting = key('semaphore-waiting');
    const text = (k: bigint) => pgLocksText({ kind: 'bigint', key: k });
    placement = {
      id: text(slots),
      gate: key('semaphore-gate'),
      slots,
      waiting,
      head: key('semaphore-head'),
      held: held.map(String),
      refusing: refusing.map(String),
      markers: held.map(text),
      channel: channelOf('s', waiting),
      slotCount: Math.min(ref.permits, MAX_SLOTS),
    };
    if (semaphorePlacements.size >= PLACEMENT_CACHE_SIZE)
      semaphorePlacements.delete(semaphorePlacements.keys().next().value!);
    semaphorePlacements.set(cacheKey, placement);
  }
  return placement;
}

/** The key of slot `slot` of a semaphore whose slots start at `slots`. */
export function slotKey(slots: bigint, slot: number): bigint {
  return slots ^ BigInt(slot);
}

/** A LISTEN channel named for `key`: `lockstep_<tag>_<16 hex digits>` (a plain lower-case identifier). */
export function channelOf(tag: string, key: bigint): string {
  return `lockstep_${tag}_${BigInt.asUintN(64, key).toString(16).padStart(16, '0')}`;
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
