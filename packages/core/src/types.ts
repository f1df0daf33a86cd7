/**
 * The public API: what an application sees, whatever the backend.
 * @module
 */
import type { LockstepEventType, LockstepListener } from './events.js';

/** Backends lockstep knows. */
export type BackendName =
  | 'memory'
  | 'file'
  | 'redis'
  | 'redlock'
  | 'etcd'
  | 'zookeeper'
  | 'consul'
  | 'postgres';

/**
 * What a backend really guarantees. Declared per primitive, and checked by the
 * conformance suite: a capability that is declared must be true.
 */
export interface Capabilities {
  readonly lock: LockCapabilities;
  readonly counter: CounterCapabilities;
  /** Semaphores; absent means the same as `{ supported: false }`. */
  readonly semaphore?: SemaphoreSupport;
  /** Read-write locks; absent means the same as `{ supported: false }`. */
  readonly readWrite?: ReadWriteSupport;
  /** Leader election; absent means the same as `{ supported: false }`. */
  readonly election?: ElectionSupport;
}

/** Guarantees of a backend's locks. */
export interface LockCapabilities {
  /**
   * `monotonic`: `handle.fencingToken` strictly increases across grants of one name, so a
   * resource that remembers the largest token it saw can reject a deposed holder.
   * `none`: the backend cannot give such tokens; reading `fencingToken` throws
   * `UnsupportedError`.
   */
  readonly fencing: 'monotonic' | 'none';
  /**
   * `per-lock`: each lock has its own lease that must be renewed (Redis, memory).
   * `per-session`: locks live as long as a session or connection (Postgres, ZooKeeper,
   * etcd and Consul leases shared per coordinator); `ttlMs` bounds how long loss
   * detection may take, not the lock itself.
   */
  readonly lease: 'per-lock' | 'per-session';
  /** Smallest TTL the backend accepts; shorter TTLs are rejected before I/O. */
  readonly minTtlMs: number;
  /** TTLs are rounded up to a multiple of this (1 for millisecond precision). */
  readonly ttlGranularityMs: number;
  /** `notify`: waiters are woken by the backend on release. `poll`: they re-check. */
  readonly waiting: 'notify' | 'poll';
  /** `fifo`: waiters are granted in arrival order. `none`: any waiter may win. */
  readonly fairness: 'fifo' | 'none';
  /**
   * `single-node`: one server; its loss loses locks. `quorum`: a majority of independent
   * nodes must agree (Redlock). `replicated`: consensus-replicated state (etcd, ZooKeeper,
   * Consul).
   */
  readonly faultTolerance: 'single-node' | 'quorum' | 'replicated';
}

/**
 * What happens when clients declare different `permits` for one semaphore name.
 * `smallest`: a permit is granted only while the holders are fewer than the smallest count
 * declared by the requester and by every current holder, so a semaphore is never held by more
 * than the smallest count anyone declared. `stored`: the first declaration is stored with the
 * semaphore while it is in use, and a client declaring another count is refused with
 * `InvalidArgumentError`.
 */
export type PermitMismatchRule = 'smallest' | 'stored';

/** Guarantees of a backend's semaphores (the lock fields describe each permit). */
export interface SemaphoreCapabilities extends LockCapabilities {
  readonly supported: true;
  readonly mismatch: PermitMismatchRule;
}

/** Whether a backend has semaphores, and if so what they guarantee. */
export type SemaphoreSupport = SemaphoreCapabilities | { readonly supported: false; readonly reason: string };

/**
 * Guarantees of a backend's read-write locks (the lock fields describe each grant, read or
 * write). `writerProgress`: `queued` — once a writer waits, readers that come later queue
 * behind it, so a steady stream of readers cannot starve it; `none` — new readers may keep
 * joining while a writer waits.
 */
export interface ReadWriteCapabilities extends LockCapabilities {
  readonly supported: true;
  readonly writerProgress: 'queued' | 'none';
}

/** Whether a backend has read-write locks, and if so what they guarantee. */
export type ReadWriteSupport = ReadWriteCapabilities | { readonly supported: false; readonly reason: string };

/**
 * Guarantees of a backend's elections (the lock fields describe each leadership: its lease, and
 * `fencing` for the term). `observe`: `notify` — observers hear of a change when the backend
 * pushes it; `poll` — they re-read on a timer. `vacancies`: whether observers are told when the
 * election has no leader (`null`), which etcd's own Observe never does.
 */
export interface ElectionCapabilities extends LockCapabilities {
  readonly supported: true;
  readonly observe: 'notify' | 'poll';
  readonly vacancies: boolean;
}

/** Whether a backend has elections, and if so what they guarantee. */
export type ElectionSupport = ElectionCapabilities | { readonly supported: false; readonly reason: string };

/** Guarantees of a backend's counters. */
export interface CounterCapabilities {
  /** Whether `coordinator.counter()` works at all (else it throws `UnsupportedError`). */
  readonly supported: boolean;
  /** Whether `min`/`max` are enforced atomically on the server. */
  readonly bounds: boolean;
}

/** Options every adapter's `connect` accepts (also as URL query parameters). */
export interface ConnectOptions {
  /**
   * Namespace for every key this coordinator touches, so apps sharing a backend stay
   * isolated. Default `"lockstep"`.
   */
  prefix?: string;
  /** How long connecting may take before `BackendUnavailableError`. Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** Options of `connect('memory://NAME')`: the shared ones; memory:// connects at once. */
export interface MemoryConnectOptions extends ConnectOptions {}

/**
 * The options `connect()` takes, per URL scheme. Each adapter adds its schemes here by
 * declaration merging, so that once its package is imported anywhere in the program,
 * `connect('redis://…', { … })` autocompletes and type-checks that adapter's options:
 *
 * ```ts
 * declare module '@lockstep/core' {
 *   interface ConnectOptionsByScheme { myscheme: MyConnectOptions }
 * }
 * ```
 */
export interface ConnectOptionsByScheme {
  memory: MemoryConnectOptions;
}

/** A scheme whose adapter's types are part of the program. */
export type KnownScheme = keyof ConnectOptionsByScheme & string;

/**
 * Options for a URL whose scheme is not known at compile time (a URL from the environment,
 * or an adapter whose types were not imported): any option is accepted by the compiler and
 * checked by the adapter when it connects, before any I/O.
 */
export interface LooseConnectOptions extends ConnectOptions {
  /** Adapter-specific options, checked at run time. */
  [option: string]: unknown;
}

/**
 * The options of `connect(url)` for a URL of type `U`: its adapter's when the URL is a literal
 * of a known scheme; otherwise any adapter's options, or any options at all, since which
 * adapter serves the URL is only known at run time.
 */
export type ConnectOptionsFor<U> = U extends `${infer Scheme}://${string}`
  ? Scheme extends KnownScheme
    ? ConnectOptionsByScheme[Scheme]
    : AnyConnectOptions
  : AnyConnectOptions;

/** Options for a URL known only at run time: any adapter's, checked by it when connecting. */
export type AnyConnectOptions = ConnectOptionsByScheme[KnownScheme] | LooseConnectOptions;

/** Options of `coordinator.lock(name, options)`. */
export interface LockOptions {
  /**
   * Lease length in ms. A holder that stops renewing loses the lock after this long.
   * Default 15 000. Rounded up to the backend's granularity; below its minimum it is rejected.
   */
  ttlMs?: number;
  /**
   * Renew the lease at about ttl/3 while held (default `true`). With `false` the handle is
   * a pure lease: it ends after `ttlMs` unless `extend()` is called, and its signal aborts then.
   */
  autoExtend?: boolean;
  /**
   * Place the lock where another language's native recipe keeps it, instead of lockstep's
   * namespaced, encoded key, so both exclude each other: a ZooKeeper path (Curator's
   * `InterProcessMutex`), an etcd key prefix (`concurrency.Mutex`, `etcdctl lock`), a Redis
   * key (node-redlock, redis-semaphore), a Postgres advisory key (a bigint, or a pair of
   * int4), a Consul KV key (`consul lock`). Validated per backend before any I/O; backends
   * without native interop throw `UnsupportedError`.
   */
  native?: NativeLockLocation;
}

/** A native lock location: a path or key (string), or a Postgres advisory key. */
export type NativeLockLocation = string | bigint | readonly [number, number];

/** Options of `lock.acquire()` and `lock.withLock()`. */
export interface AcquireOptions {
  /**
   * Longest time to wait for the lock; then `LockTimeoutError`. Default: wait until acquired
   * or aborted. `0` means a single attempt (like `tryAcquire`, but rejecting).
   */
  waitMs?: number;
  /** Aborting it cancels the wait: the promise rejects with `signal.reason`, nothing stays queued. */
  signal?: AbortSignal;
}

/** A named distributed lock. Creating one does no I/O. */
export interface Lock {
  /** The lock's name, as given. */
  readonly name: string;
  /**
   * Waits for the lock. Not reentrant: a second acquire of a held name, from anywhere
   * (this process included), waits like any other contender.
   * @throws LockTimeoutError when `waitMs` passes first.
   * @throws `signal.reason` when the signal aborts first.
   * @throws BackendUnavailableError when the backend cannot be reached.
   */
  acquire(options?: AcquireOptions): Promise<LockHandle>;
  /** One attempt that never waits: `null` when someone else holds the lock. */
  tryAcquire(): Promise<LockHandle | null>;
  /**
   * Acquires, runs `fn`, and releases in `finally`. The lease is renewed while `fn` runs;
   * `fn` receives the handle and should watch `handle.signal` — it aborts if the lock is lost.
   * The lock is released even if `fn` throws; `fn`'s error is rethrown.
   */
  withLock<T>(fn: (handle: LockHandle) => Promise<T> | T, options?: AcquireOptions): Promise<T>;
}

/**
 * Proof of holding a lock. Renews itself at about ttl/3 until released (unless
 * `autoExtend: false`). `await using held = await lock.acquire()` releases at scope exit.
 */
export interface LockHandle {
  /** The lock's name. */
  readonly name: string;
  /**
   * Strictly increasing across grants of this name (capability `fencing: 'monotonic'`).
   * Pass it to the resource you protect and have it reject writes carrying a token smaller
   * than the largest it has seen: that, not the lock alone, stops a paused or partitioned
   * former holder. Throws `UnsupportedError` on backends declaring `fencing: 'none'`.
   */
  readonly fencingToken: bigint;
  /**
   * Aborted with a `LockLostError` as soon as ownership is lost or can no longer be proven
   * (lease expired, renewal refused, session or connection lost). Never aborted by `release()`.
   */
  readonly signal: AbortSignal;
  /** The lease length in ms this handle renews with. */
  readonly ttlMs: number;
  /**
   * Pushes the lease out to `ttlMs` from now (default: the lock's ttl).
   * @throws LockLostError when the lock is no longer held (and aborts `signal`).
   */
  extend(ttlMs?: number): Promise<void>;
  /**
   * Releases the lock and stops renewal. Idempotent. Returns `false` when it was no longer
   * held (lost, or already released). Never frees a lock someone else holds.
   */
  release(): Promise<boolean>;
  /** Asks the backend whether this handle still holds the lock. */
  isHeld(): Promise<boolean>;
  /** Same as `release()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of `coordinator.semaphore(name, options)`. */
export interface SemaphoreOptions {
  /** How many holders the semaphore admits at once: a positive safe integer. Required. */
  permits: number;
  /** Lease length of each permit, as for locks. */
  ttlMs?: number;
  /** Renew each permit while held (default `true`), as for locks. */
  autoExtend?: boolean;
  /**
   * Place the semaphore where another library's own recipe keeps it (redis-semaphore's
   * `Semaphore` key, Curator's `InterProcessSemaphoreV2` path, a Consul `api/semaphore.go`
   * prefix), so both count the same permits. Validated per backend before any I/O; backends
   * without native semaphore interop throw `UnsupportedError`.
   */
  native?: NativeLockLocation;
}

/**
 * A named counting semaphore: at most `permits` holders at once, across every client. Each
 * permit is a {@link LockHandle}: fenced (tokens strictly increase across the permits of one
 * name), renewed, and lost with a signal like a lock. Creating one does no I/O.
 */
export interface Semaphore {
  readonly name: string;
  /** The count this client declared (see `capabilities.semaphore.mismatch` for other counts). */
  readonly permits: number;
  /**
   * Waits for a permit.
   * @throws LockTimeoutError when `waitMs` passes first; `signal.reason` when it aborts.
   */
  acquire(options?: AcquireOptions): Promise<LockHandle>;
  /** One attempt that never waits: `null` when every permit is taken. */
  tryAcquire(): Promise<LockHandle | null>;
  /** Acquires a permit, runs `fn` (renewing the permit), releases in `finally`. */
  withPermit<T>(fn: (permit: LockHandle) => Promise<T> | T, options?: AcquireOptions): Promise<T>;
}

/** Options of `coordinator.readWriteLock(name, options)`. */
export interface ReadWriteLockOptions {
  /** Lease length of each grant, read or write, as for locks. */
  ttlMs?: number;
  /** Renew each grant while held (default `true`), as for locks. */
  autoExtend?: boolean;
  /**
   * Place the lock where another library's own recipe keeps it (Curator's
   * `InterProcessReadWriteLock` path, a PostgreSQL advisory key shared with
   * `pg_advisory_lock_shared`), so both exclude each other. Validated per backend before any I/O.
   */
  native?: NativeLockLocation;
}

/**
 * Many readers or one writer. `read` and `write` are {@link Lock}s on the same name: a write
 * grant excludes every other grant; read grants share with each other. Every grant, read or
 * write, carries a fencing token larger than every earlier grant's of that name, so a resource
 * can reject a write made under an older grant. Creating one does no I/O.
 */
export interface ReadWriteLock {
  readonly name: string;
  /** Shared access: held by any number of readers at once, never together with a writer. */
  readonly read: Lock;
  /** Exclusive access: no other reader or writer while held. */
  readonly write: Lock;
}

/** Options of `coordinator.election(name, options)`. */
export interface ElectionOptions {
  /** Lease of a leadership: a leader that stops renewing is replaced after about this long. */
  ttlMs?: number;
  /**
   * Place the election where another library's own recipe keeps it (etcd's
   * `concurrency.Election` prefix and `etcdctl elect`, Curator's `LeaderLatch` path), so both
   * elect one leader together. Validated per backend before any I/O.
   */
  native?: NativeLockLocation;
}

/** Options of `election.campaign()`. */
export interface CampaignOptions {
  /** What this candidate proclaims once it leads (an address, an id). Default `""`. */
  value?: string;
  /** Longest time to wait for leadership; then `LockTimeoutError`. Default: until elected or aborted. */
  waitMs?: number;
  /** Aborting it withdraws the candidacy: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Who leads: the leader's proclaimed value and its term. */
export interface LeaderInfo {
  readonly value: string;
  /** Strictly increasing across leaders of the election: the fencing token of its leadership. */
  readonly term: bigint;
}

/**
 * Leading an election. `state`: `leading`; `suspect` while renewals fail but the lease has not
 * ended (act with care: the lease may end); `lost` once the lease ended or the backend said so
 * (`signal` aborted, never later than the lease could have ended); `resigned`.
 */
export interface Leadership {
  readonly name: string;
  /** This leadership's term: larger than every earlier leader's. Pass it to what the leader writes. */
  readonly term: bigint;
  /** The value proclaimed last. */
  readonly value: string;
  readonly state: 'leading' | 'suspect' | 'lost' | 'resigned';
  /** Aborted with `LockLostError` when leadership is lost. */
  readonly signal: AbortSignal;
  /**
   * Changes the proclaimed value, guarded by the term on the server: observers see it.
   * @throws LockLostError when this candidate no longer leads.
   */
  proclaim(value: string): Promise<void>;
  /** Steps down; the next candidate may lead at once. `false` when it no longer led. */
  resign(): Promise<boolean>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of `election.observe()`. */
export interface ObserveOptions {
  /** Ends the iteration when it aborts. */
  signal?: AbortSignal;
}

/** Options of `election.run()`. */
export interface RunOptions {
  value?: string;
  /** Stops campaigning (and ends a leadership in progress) when it aborts. Required: `run` loops until then. */
  signal: AbortSignal;
}

/**
 * A leader election: at most one leader at a time, each with a term larger than every earlier
 * leader's. Creating one does no I/O.
 */
export interface Election {
  readonly name: string;
  /** Waits until this candidate leads. */
  campaign(options?: CampaignOptions): Promise<Leadership>;
  /** The current leader, or `null` when there is none. */
  leader(): Promise<LeaderInfo | null>;
  /**
   * Every change of leader or proclaimed value, in order, starting with the current state;
   * `null` when the election has no leader. A slow consumer gets every change, not only the last.
   */
  observe(options?: ObserveOptions): AsyncIterableIterator<LeaderInfo | null>;
  /**
   * Campaigns, runs `fn` while leading (its leadership's signal aborts on loss), and campaigns
   * again after a loss or after `fn` returns, with backoff, until `signal` aborts.
   */
  run(fn: (leadership: Leadership) => Promise<void> | void, options: RunOptions): Promise<void>;
}

/** One holder of a lock, as the backend tells it. Fields the backend cannot tell are absent. */
export interface HolderInfo {
  /** The owner id the backend stores for the grant (lockstep's random id, or a native client's). */
  readonly owner?: string;
  readonly fencingToken?: bigint;
  /** How long the holder's lease lasts from now, as the backend counts it. */
  readonly leftMs?: number;
}

/** What the backend says about a lock right now: a snapshot, already old when it arrives. */
export interface LockInspection {
  readonly name: string;
  readonly holders: readonly HolderInfo[];
  /** Contenders waiting, where the backend keeps a queue it can count. */
  readonly waiting?: number;
}

/** Options of `coordinator.counter(name, options)`. */
export interface CounterOptions {
  /** Lowest allowed value, enforced atomically by the backend. */
  min?: number;
  /** Highest allowed value, enforced atomically by the backend. */
  max?: number;
}

/**
 * A named integer counter. Values are safe integers; every check-and-change is atomic on
 * the backend. A counter that was never written reads as `0`.
 */
export interface Counter {
  /** The counter's name. */
  readonly name: string;
  /** The current value (0 when never written). */
  get(): Promise<number>;
  /**
   * Adds `by` (default 1) and returns the new value.
   * @throws CounterBoundError when the result would exceed `max`; nothing is written.
   */
  increment(by?: number): Promise<number>;
  /**
   * Subtracts `by` (default 1) and returns the new value.
   * @throws CounterBoundError when the result would go below `min`; nothing is written.
   */
  decrement(by?: number): Promise<number>;
  /** Sets the value. @throws CounterBoundError when `value` is outside the bounds. */
  set(value: number): Promise<void>;
  /**
   * Sets `next` only if the value is `expected` (a never-written counter counts as 0).
   * @returns whether it was set.
   */
  compareAndSet(expected: number, next: number): Promise<boolean>;
}

/** A connection to one backend: the factory for locks and counters. */
export interface Coordinator {
  /** Which backend this is. */
  readonly backend: BackendName;
  /** What it guarantees. */
  readonly capabilities: Capabilities;
  /** The namespace prefix in use. */
  readonly prefix: string;
  /**
   * A lock object for `name` (no I/O). Lock `x` and counter `x` never collide.
   * @throws InvalidArgumentError for a bad name or options.
   */
  lock(name: string, options?: LockOptions): Lock;
  /**
   * A counter object for `name` (no I/O).
   * @throws UnsupportedError when the backend has no counters.
   * @throws InvalidArgumentError for a bad name or bounds.
   */
  counter(name: string, options?: CounterOptions): Counter;
  /**
   * A semaphore object for `name` (no I/O). Semaphore `x`, lock `x` and counter `x` never collide.
   * @throws UnsupportedError when the backend has no semaphores.
   * @throws InvalidArgumentError for a bad name, permit count or options.
   */
  semaphore(name: string, options: SemaphoreOptions): Semaphore;
  /**
   * A read-write lock object for `name` (no I/O); apart from the lock, semaphore and counter `name`.
   * @throws UnsupportedError when the backend has no read-write locks.
   * @throws InvalidArgumentError for a bad name or options.
   */
  readWriteLock(name: string, options?: ReadWriteLockOptions): ReadWriteLock;
  /**
   * An election object for `name` (no I/O); apart from every other primitive of that name.
   * @throws UnsupportedError when the backend has no elections.
   * @throws InvalidArgumentError for a bad name or options.
   */
  election(name: string, options?: ElectionOptions): Election;
  /**
   * Who holds the lock `name` (owner, fencing token, lease left) and how many wait, as the
   * backend tells it right now. For operators and health views: by the time it returns it may
   * have changed, so never use it to decide who may write.
   * @throws UnsupportedError when the backend cannot tell (with the reason).
   */
  inspect(name: string, options?: Pick<LockOptions, 'native'>): Promise<LockInspection>;
  /**
   * Listens to what this coordinator does: `acquire`, `granted` (with the wait and the fencing
   * token), `busy`, `timed-out`, `aborted`, `released` (with the held time), `renewal-failed`
   * (with the cause and the lease left), `lost` (with the reason) and `backend-error`. Returns
   * the function that stops listening. The same events go to `diagnostics_channel` as
   * `lockstep:<type>` for every coordinator of the process. Listeners run synchronously; one
   * that throws is reported as a process warning and disturbs nothing else.
   */
  on<K extends LockstepEventType>(type: K, listener: LockstepListener<K>): () => void;
  /** Stops a listener added with {@link Coordinator.on}. */
  off<K extends LockstepEventType>(type: K, listener: LockstepListener<K>): void;
  /**
   * Releases every lock this coordinator holds, cancels waits, stops timers and closes
   * connections it owns, so the process can exit. Idempotent.
   */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
