/**
 * Every Redis key and channel lockstep touches, derived in this one place.
 *
 * Layout (`P` = encoded prefix, `N` = encoded name; encoded segments never contain `/`,
 * so `/` separates the parts unambiguously and the map is injective):
 *
 * | what | key |
 * |---|---|
 * | lock (owner id, with a PX lease) | `P/lock/N` |
 * | fencing state of that lock (never expires) | `P/fence/N` |
 * | release notifications | channel `P/released/N` |
 * | coordinators waiting for it (handoff) | `P/waiters/N` (hash, expires) |
 * | counter (a plain integer string) | `P/counter/N` |
 * | semaphore holders (sorted set: owner id → lease deadline, server ms) | `P/sem/N` |
 * | counts the holders declared (sorted set: owner id → permits) | `P/sem-limits/N` |
 * | each holder's fencing token (sorted set: owner id → token) | `P/sem-tokens/N` |
 * | semaphore waiters in arrival order (sorted set: owner id → ticket) | `P/sem-queue/N` |
 * | when each waiter's registration lapses (sorted set: owner id → server ms) | `P/sem-waiting/N` |
 * | counts the waiters declared (sorted set: owner id → permits) | `P/sem-asks/N` |
 * | fencing state of that semaphore (never expires) | `P/sem-fence/N` |
 * | its wake-ups | channel `P/sem-released/N` |
 * | read-write lock: the same seven, a writer declaring 1 and a reader the largest safe integer | `P/rw/N`, `P/rw-limits/N`, … `P/rw-fence/N`, channel `P/rw-released/N` |
 * | election: the same seven, every candidate declaring 1 | `P/elect/N`, `P/elect-limits/N`, … |
 * | the leader's record (hash: owner, term, version, value) | `P/elect-leader/N` |
 *
 * A lock with a `native` location lives at exactly the key the user named, set
 * with `SET key owner NX PX ttl` like node-redlock and redis-semaphore's Mutex do, so they
 * and lockstep exclude each other. Its fencing state sits beside it at `KEY:lockstep-fence`
 * and its channel is `lockstep-released:KEY`: neither depends on the coordinator's prefix,
 * so every lockstep process sharing a native lock shares its tokens and wake-ups too. A
 * native lock never holds anything but an owner id (no handoff reservations), because the
 * other libraries could not tell a reservation from a holder.
 *
 * A semaphore with a `native` location is redis-semaphore's own sorted set at that key (owner
 * id → the server time of its last acquire or refresh), with the fencing state and channel
 * beside it as for a native lock. It has no queue and no declared counts: redis-semaphore
 * would not read them.
 * @module
 */
import { InvalidArgumentError, MAX_NAME_BYTES, type NativeLockLocation, validateName } from '@lockstep/core';
import type { CounterRef, LockRef, SemaphoreRef } from '@lockstep/core/driver';

/** Where one lock lives. */
export interface LockKeys {
  /** The key holding the owner id with its lease. */
  readonly lock: string;
  /** The key holding the last fencing token issued for this lock. */
  readonly fence: string;
  /** The pub/sub channel its releases are announced on. */
  readonly channel: string;
  /**
   * The hash where waiting coordinators register, so a release hands the lock to them
   * (see `RELEASE`). Absent for native keys: they keep plain `SET NX` semantics.
   */
  readonly waiters?: string;
  /**
   * Native locks only: the key other libraries set and delete without announcing it, so
   * waiters also listen to its keyspace events (delivered only when the server enables
   * `notify-keyspace-events`, e.g. `Kgx`; otherwise they re-check at the holder's lease end).
   */
  readonly nativeKey?: string;
}

/** Keys of a lock, lockstep-namespaced or native. */
export function lockKeys(ref: LockRef): LockKeys {
  if (typeof ref.native === 'string') {
    return {
      lock: ref.native,
      fence: `${ref.native}:lockstep-fence`,
      channel: `lockstep-released:${ref.native}`,
      nativeKey: ref.native,
    };
  }
  return {
    lock: `${ref.prefixSegment}/lock/${ref.segment}`,
    fence: `${ref.prefixSegment}/fence/${ref.segment}`,
    channel: `${ref.prefixSegment}/released/${ref.segment}`,
    waiters: `${ref.prefixSegment}/waiters/${ref.segment}`,
  };
}

/** The sorted sets of a lease with a queue of waiters (see the layout above), in the scripts' KEYS order after the holders. */
export interface QueueKeys {
  readonly limits: string;
  readonly tokens: string;
  readonly queue: string;
  readonly waiting: string;
  readonly asks: string;
}

/** Where one semaphore lives. */
export interface SemaphoreKeys {
  /** The sorted set of holders. */
  readonly holders: string;
  /** The last fencing token issued for a permit of this semaphore. */
  readonly fence: string;
  /** The pub/sub channel its wake-ups are announced on. */
  readonly channel: string;
  /**
   * The queue, and the counts and tokens of holders and waiters: absent at a native location,
   * where redis-semaphore keeps none of them.
   */
  readonly queued?: QueueKeys;
  /** Native semaphores only: the key other libraries change without announcing it (see {@link LockKeys.nativeKey}). */
  readonly nativeKey?: string;
}

/** Where a queued lease lives (a lockstep semaphore, a read-write lock, an election). */
export interface QueuedKeys extends SemaphoreKeys {
  readonly queued: QueueKeys;
  /** Every key its scripts declare, in KEYS order: holders, the {@link QueueKeys}, fence, then `extra`. */
  readonly scriptKeys: readonly string[];
}

/** The keys of a queued lease of `kind` (`sem`, `rw`, `elect`), plus `extra` kinds its scripts also touch. */
function queuedKeys(ref: LockRef, kind: string, extra: readonly string[] = []): QueuedKeys {
  const at = (suffix: string) => `${ref.prefixSegment}/${kind}${suffix}/${ref.segment}`;
  const queued = {
    limits: at('-limits'),
    tokens: at('-tokens'),
    queue: at('-queue'),
    waiting: at('-waiting'),
    asks: at('-asks'),
  };
  const holders = at('');
  const fence = at('-fence');
  return {
    holders,
    fence,
    channel: at('-released'),
    queued,
    scriptKeys: [
      holders,
      queued.limits,
      queued.tokens,
      queued.queue,
      queued.waiting,
      queued.asks,
      fence,
      ...extra.map(at),
    ],
  };
}

/** Keys of a semaphore, lockstep-namespaced or native; never those of the lock or counter of the same name. */
export function semaphoreKeys(ref: SemaphoreRef): SemaphoreKeys {
  if (typeof ref.native === 'string') {
    return {
      holders: ref.native,
      fence: `${ref.native}:lockstep-fence`,
      channel: `lockstep-released:${ref.native}`,
      nativeKey: ref.native,
    };
  }
  return queuedKeys(ref, 'sem');
}

/** Keys of a read-write lock (both sides share them). */
export const readWriteKeys = (ref: LockRef): QueuedKeys => queuedKeys(ref, 'rw');

/** Keys of an election; the last script key is the leader's record. */
export const electionKeys = (ref: LockRef): QueuedKeys & { readonly leader: string } => {
  const keys = queuedKeys(ref, 'elect', ['-leader']);
  return { ...keys, leader: keys.scriptKeys.at(-1)! };
};

/** `derive`, computed once per ref (core reuses one ref per `coordinator.lock()` or `.semaphore()`). */
function cachedPer<R extends object, K>(derive: (ref: R) => K): (ref: R) => K {
  const cache = new WeakMap<R, K>();
  return (ref) => {
    let keys = cache.get(ref);
    if (!keys) {
      keys = derive(ref);
      cache.set(ref, keys);
    }
    return keys;
  };
}

/** {@link lockKeys}, computed once per `LockRef`. */
export const cachedLockKeys: (ref: LockRef) => LockKeys = cachedPer(lockKeys);

/** {@link semaphoreKeys}, computed once per `SemaphoreRef`. */
export const cachedSemaphoreKeys: (ref: SemaphoreRef) => SemaphoreKeys = cachedPer(semaphoreKeys);

/** {@link readWriteKeys}, computed once per ref (each side has its own). */
export const cachedReadWriteKeys: (ref: LockRef) => QueuedKeys = cachedPer(readWriteKeys);

/** {@link electionKeys}, computed once per ref. */
export const cachedElectionKeys: (ref: LockRef) => ReturnType<typeof electionKeys> = cachedPer(electionKeys);

/** The key of a counter. */
export function counterKey(ref: CounterRef): string {
  return `${ref.prefixSegment}/counter/${ref.segment}`;
}

/**
 * Accepts a native Redis key: a non-empty, well-formed string of at most
 * {@link MAX_NAME_BYTES} UTF-8 bytes, used verbatim (no prefix, no encoding). Note that
 * redis-semaphore's `Mutex(client, 'x')` stores its lock at `mutex:x`, and its
 * `Semaphore(client, 'x', n)` its holders at `semaphore:x`: pass that full key.
 * @throws InvalidArgumentError for anything else (bigints and key pairs are Postgres's).
 */
export function validateNativeKey(native: NativeLockLocation): void {
  if (typeof native !== 'string') {
    throw new InvalidArgumentError('native', 'a Redis native lock location is a key (a string)');
  }
  validateName(native, 'native');
}
