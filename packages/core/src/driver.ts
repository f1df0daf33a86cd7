/**
 * The adapter-facing contract. An adapter implements a {@link BackendDriver} — a few
 * backend operations — and `createCoordinator` supplies everything else: validation,
 * renewal, loss signals, waiting with timeout and abort, counter coalescing, close.
 *
 * Drivers receive only validated input: names are checked, TTLs rounded to the declared
 * granularity and above the declared minimum, amounts are non-zero safe integers.
 * @module
 */
import type { LossFlag, LossNotice } from './loss.js';
import type { BackendName, Capabilities, HolderInfo, NativeLockLocation } from './types.js';

/** Where a lock or counter lives. Adapters derive their keys from these fields injectively. */
export interface ResourceRef {
  /** The user's name, validated (non-empty, <= 1024 UTF-8 bytes, well-formed). */
  readonly name: string;
  /** The coordinator's namespace prefix, validated like a name. */
  readonly prefix: string;
  /** `encodeName(name)`: one ASCII path segment, injective. */
  readonly segment: string;
  /** `encodeName(prefix)`. */
  readonly prefixSegment: string;
}

/** A lock's location: lockstep's own, or a native one (`LockOptions.native`). */
export interface LockRef extends ResourceRef {
  /** Set when the user asked for a native location; already accepted by `validateNative`. */
  readonly native?: NativeLockLocation;
}

/**
 * A semaphore's location, and the permit count this client declared (a positive safe
 * integer). Adapters keep semaphore keys apart from lock keys of the same name.
 */
export interface SemaphoreRef extends LockRef {
  readonly permits: number;
}

/** A read-write lock's location, and which side an attempt is for. */
export interface ReadWriteRef extends LockRef {
  readonly mode: 'read' | 'write';
}

/** An election's location, and the value a candidate proclaims when it leads. */
export interface ElectionRef extends LockRef {
  readonly value: string;
}

/** One acquisition attempt (of a lock, or of a semaphore's permit). */
export interface AcquireRequest<R extends LockRef = LockRef> {
  readonly lock: R;
  /** Lease length, already validated and rounded up to the backend's granularity. */
  readonly ttlMs: number;
  /** A fresh random id (32 hex chars) for this attempt; the owner value stored in the backend. */
  readonly ownerId: string;
}

/**
 * What a driver returns for a granted lock. Core wraps it in a `LockHandle` that renews
 * it, watches {@link LeaseGrant.lost}, and turns failures into `LockLostError`.
 */
export interface LeaseGrant {
  /** The fencing token; required when the backend declares `fencing: 'monotonic'`. */
  readonly fencingToken?: bigint;
  /**
   * Aborted by the driver as soon as the backend tells it ownership is gone (session
   * expired, connection ended, key deleted). Core then aborts the handle's signal.
   * A {@link LossFlag} per grant, or an `AbortSignal` shared by many (a session's).
   */
  readonly lost?: LossNotice;
  /**
   * Optional `performance.now()` instant until which the lease is certainly ours (Redlock
   * subtracts elapsed time and drift). Default: the instant the request was sent + ttl.
   */
  readonly validUntil?: number;
  /**
   * The session the grant rides on, for per-session backends whose sessions keep themselves
   * alive (the `Session` recipe). Such a grant is kept by its session: a renewing handle sends
   * no renewals of its own — one keep-alive per session per period, however many locks ride on
   * it — and learns of its loss from {@link LeaseGrant.lost}, which must then trip when the
   * session is lost (its trust window included). `extend()` still calls {@link LeaseGrant.renew}.
   */
  readonly session?: SessionTrust;
  /**
   * Renews the lease for `ttlMs` (per-lock leases) or verifies the lock is still held
   * (per-session leases). `true`: still ours. `false`: gone or owned by another.
   * Throws when the backend cannot be reached (core retries until the lease would end).
   * `urgent`: an explicit `extend()` the caller is waiting on — a driver that holds renewals
   * back to send many in one round trip sends this one at once.
   */
  renew(ttlMs: number, urgent?: boolean): Promise<boolean>;
  /** Releases; `true` when it was ours. Must never remove another owner's lock. */
  release(): Promise<boolean>;
  /** Asks the backend whether we still hold it. */
  isHeld(): Promise<boolean>;
}

/** What a handle may ask of the session its grant rides on. */
export interface SessionTrust {
  /** `performance.now()` until which the server certainly keeps the session. */
  readonly certainUntil: number;
  /** Whether the session's keep-alives are failing (the window has not closed yet). */
  readonly suspect?: boolean;
  /**
   * The session's own lease length, when it differs from the lock's (a ZooKeeper session
   * timeout): a grant is judged late against the shorter of the two.
   */
  readonly ttlMs?: number;
}

/** A leadership: a lease grant whose fencing token is the term, and whose value can change. */
export interface LeadershipGrant extends LeaseGrant {
  /** The term; required. */
  readonly fencingToken: bigint;
  /** Writes `value` as the leader's, only if this grant still leads (checked on the server). */
  proclaim(value: string): Promise<boolean>;
}

/** Elections of a backend. */
export interface ElectionDriver {
  /** Waits in the election until this candidate leads (removes its candidacy when `signal` aborts). */
  campaign(request: AcquireRequest<ElectionRef>, signal: AbortSignal): Promise<LeadershipGrant>;
  /** Leads at once if nobody does and nobody waits, in one attempt; `null` otherwise. */
  tryCampaign(request: AcquireRequest<ElectionRef>): Promise<LeadershipGrant | null>;
  /** The current leader, or `null`. */
  leader(election: LockRef): Promise<{ readonly value: string; readonly term: bigint } | null>;
  /**
   * Calls `onChange` with the current state and then with every change (leader, value,
   * vacancy as `null`), in order, until `signal` aborts. Returns once watching has begun.
   */
  observe(
    election: LockRef,
    onChange: (leader: { readonly value: string; readonly term: bigint } | null) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** Checks a native election location before any I/O. */
  validateNative?(native: NativeLockLocation): void;
}

/**
 * Resolves when the lock may have become free: after a release notification that
 * arrived since the previous `next()` (or since the watch began), or after `maxMs`
 * (core's fallback re-check, so a lost notification can never hang a waiter), or
 * when `signal` aborts. Never rejects.
 */
export interface LockWatch {
  next(maxMs: number, signal: AbortSignal): Promise<void>;
  /**
   * Ends the watch. `granted`: the wait ended with the lock (a wake it got was used); otherwise
   * a wake it got and did not use goes to the next waiter.
   */
  close(granted?: boolean): void;
}

/** Lock operations of a backend. */
export interface LockDriver<R extends LockRef = LockRef> {
  /** One attempt that never waits: a grant, or `null` when another owner holds the lock. */
  tryAcquire(request: AcquireRequest<R>): Promise<LeaseGrant | null>;
  /**
   * Queue-based backends (etcd, ZooKeeper, memory): wait in the backend's own queue until
   * granted. When `signal` aborts, the driver removes its queue entry (or releases a grant
   * that raced the abort) and only then rejects with `signal.reason`.
   */
  acquire?(request: AcquireRequest<R>, signal: AbortSignal): Promise<LeaseGrant>;
  /**
   * Try-then-wait backends: a subscription to release notifications, opened before the
   * first attempt so no release can slip between an attempt and the wait.
   */
  watch?(lock: R): LockWatch;
  /** Who holds `lock` and how many wait, where the backend can tell. */
  inspect?(lock: R): Promise<{ readonly holders: readonly HolderInfo[]; readonly waiting?: number }>;
  /**
   * Checks a `native` location before any I/O; throws `InvalidArgumentError` when it is not
   * a valid location for this backend. Absent: the backend has no native interop, and
   * `lock(name, { native })` throws `UnsupportedError`.
   */
  validateNative?(native: NativeLockLocation): void;
}

/** A counter and the bounds of this `Counter` object. */
export interface CounterRef extends ResourceRef {
  readonly min?: number;
  readonly max?: number;
}

/** Result of an atomic bounded add. */
export type AddOutcome =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly bound: 'min' | 'max'; readonly limit: number; readonly attempted: number };

/** Counter operations of a backend. Every check-and-change must be atomic on the server. */
export interface CounterDriver {
  /** The value; 0 when the counter was never written. */
  get(counter: CounterRef): Promise<number>;
  /**
   * Adds `delta` (a non-zero safe integer) atomically, unless the result would leave
   * `[min, max]` or the safe-integer range: then writes nothing and says which bound.
   */
  add(counter: CounterRef, delta: number): Promise<AddOutcome>;
  /** Writes `value` (already checked against the bounds). */
  set(counter: CounterRef, value: number): Promise<void>;
  /** Writes `next` only if the value is `expected` (absent counts as 0). */
  compareAndSet(counter: CounterRef, expected: number, next: number): Promise<boolean>;
}

/** Everything an adapter provides. */
export interface BackendDriver {
  readonly backend: BackendName;
  readonly capabilities: Capabilities;
  readonly locks: LockDriver;
  /**
   * Semaphores: the same operations, on a {@link SemaphoreRef}; a grant is one permit. Present
   * exactly when `capabilities.semaphore.supported` is true.
   */
  readonly semaphores?: LockDriver<SemaphoreRef>;
  /**
   * Read-write locks: the same operations, on a {@link ReadWriteRef} whose `mode` says which
   * side. Present exactly when `capabilities.readWrite.supported` is true.
   */
  readonly readWriteLocks?: LockDriver<ReadWriteRef>;
  /** Elections. Present exactly when `capabilities.election.supported` is true. */
  readonly elections?: ElectionDriver;
  /** Absent when the backend has no counters (`counter()` then throws `UnsupportedError`). */
  readonly counters?: CounterDriver;
  /**
   * Called once by `coordinator.close()` after every handle was released and every wait
   * cancelled. Close the connections the driver opened (not the ones the user passed in).
   */
  close(): Promise<void>;
}
