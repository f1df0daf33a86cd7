/**
 * `createCoordinator` turns a driver into the public API. Everything that is the same on
 * every backend lives here: validation before I/O, TTL rounding, handles and renewal,
 * waiting, counter coalescing, and a close() that leaves nothing behind.
 * @module
 */
import { setMaxListeners } from 'node:events';
import { AddCoalescer } from './coalesce.js';
import type {
  AcquireRequest,
  AddOutcome,
  BackendDriver,
  CounterDriver,
  CounterRef,
  ElectionRef,
  LeaseGrant,
  LockDriver,
  LockRef,
  ReadWriteRef,
  ResourceRef,
  SemaphoreRef,
} from './driver.js';
import { DriverElection } from './election.js';
import {
  BackendUnavailableError,
  CounterBoundError,
  InvalidArgumentError,
  LockTimeoutError,
  UnsupportedError,
} from './errors.js';
import {
  EventHub,
  type EventPrimitive,
  type LockstepEventType,
  type LockstepListener,
  nextAttempt,
  runWork,
} from './events.js';
import { holdProcessOpen } from './keepalive.js';
import { LeaseHandle, normaliseTtl } from './lease.js';
import { encodeName, validateName, validatePrefix } from './names.js';
import { optionNames, rejectUnknownOptions } from './option-names.js';
import { randomOwnerId } from './random.js';
import type {
  AcquireOptions,
  Coordinator,
  Counter,
  CounterOptions,
  Election,
  ElectionOptions,
  Lock,
  LockCapabilities,
  LockHandle,
  LockInspection,
  LockOptions,
  NativeLockLocation,
  ReadWriteLock,
  ReadWriteLockOptions,
  Semaphore,
  SemaphoreOptions,
} from './types.js';
import {
  validateAmount,
  validateBoolean,
  validateSafeInteger,
  validateSignal,
  validateWaitMs,
} from './validate.js';
import { type RecheckPolicy, type TimedGrant, waitForGrant } from './wait.js';

const LOCK_OPTION_NAMES = optionNames<LockOptions>()(['ttlMs', 'autoExtend', 'native']);
const ACQUIRE_OPTION_NAMES = optionNames<AcquireOptions>()(['waitMs', 'signal']);
const COUNTER_OPTION_NAMES = optionNames<CounterOptions>()(['min', 'max']);
const SEMAPHORE_OPTION_NAMES = optionNames<SemaphoreOptions>()(['permits', 'ttlMs', 'autoExtend', 'native']);
const READ_WRITE_OPTION_NAMES = optionNames<ReadWriteLockOptions>()(['ttlMs', 'autoExtend', 'native']);
const ELECTION_OPTION_NAMES = optionNames<ElectionOptions>()(['ttlMs', 'native']);
const INSPECT_OPTION_NAMES = optionNames<Pick<LockOptions, 'native'>>()(['native']);

/** What differs between the leased primitives: the driver, its guarantees, the events' name. */
interface LeasedKind {
  readonly primitive: EventPrimitive;
  /**
   * The kind's driver. Each takes its own ref type (a semaphore's carries its permits); the
   * coordinator hands every driver only refs it built for that driver.
   */
  readonly driver: LockDriver;
  readonly caps: LockCapabilities;
}

/** A permit count: a positive safe integer. */
function validatePermits(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError('permits', `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * A grant whose reply arrives with less than this share of its lease left (counted from when
 * the request was sent) is given back instead of handed out: a caller that checks
 * `handle.signal.aborted` before writing must never be handed a lease that is already over,
 * or about to be before it can act on it.
 */
export const LATE_GRANT_MARGIN = 0.1;
/** How many late grants in a row an acquire gives back before reporting the backend too slow. */
const MAX_LATE_GRANTS = 3;

/**
 * Whether a grant still has a useful part of its lease left. A grant on a session is as good
 * as its session, whose window may be shorter than the lock's TTL (it is renewed more often).
 */
function hasMargin({ grant, sentAt }: TimedGrant, ttlMs: number): boolean {
  const session = grant.session;
  const validUntil =
    grant.validUntil ?? Math.min(sentAt + ttlMs, session?.certainUntil ?? Number.POSITIVE_INFINITY);
  const window = Math.min(ttlMs, session?.ttlMs ?? ttlMs);
  return validUntil - performance.now() >= window * LATE_GRANT_MARGIN;
}

/** Default namespace prefix. */
export const DEFAULT_PREFIX = 'lockstep';
/** Default lease length. */
export const DEFAULT_TTL_MS = 15_000;

/** Options of {@link createCoordinator}. */
export interface CreateCoordinatorOptions {
  /** Namespace prefix; default `"lockstep"`. */
  prefix?: string;
  /** Overrides the fallback re-check timing of try-then-wait drivers. */
  recheck?: RecheckPolicy;
}

/** Builds a {@link Coordinator} over an adapter's driver. */
export function createCoordinator(
  driver: BackendDriver,
  options: CreateCoordinatorOptions = {},
): Coordinator {
  return new DriverCoordinator(driver, options);
}

/** Derives a {@link ResourceRef}; exported for adapters' own tests and tools. */
export function resourceRef(prefix: string, name: string): ResourceRef {
  return { name, prefix, segment: encodeName(name), prefixSegment: encodeName(prefix) };
}

class DriverCoordinator implements Coordinator {
  readonly backend;
  readonly capabilities;
  readonly prefix: string;
  readonly #driver: BackendDriver;
  readonly #closing = new AbortController();
  readonly #handles = new Set<LeaseHandle>();
  readonly #waits = new Set<Promise<unknown>>();
  readonly #coalescers = new Map<string, AddCoalescer>();
  readonly #recheck: RecheckPolicy | undefined;
  readonly #events = new EventHub();
  readonly #lockKind: LeasedKind;
  #closed: Promise<void> | undefined;

  constructor(driver: BackendDriver, options: CreateCoordinatorOptions) {
    this.#driver = driver;
    this.backend = driver.backend;
    this.capabilities = driver.capabilities;
    this.prefix = validatePrefix(options.prefix ?? DEFAULT_PREFIX);
    this.#recheck = options.recheck;
    this.#lockKind = { primitive: 'lock', driver: driver.locks, caps: driver.capabilities.lock };
    // Every pending wait listens for close(): many concurrent acquires are normal, not a leak.
    setMaxListeners(0, this.#closing.signal);
  }

  lock(name: string, options: LockOptions = {}): Lock {
    validateName(name);
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'must be an object');
    }
    rejectUnknownOptions(options, LOCK_OPTION_NAMES, 'lock options');
    const caps = this.capabilities.lock;
    const ttlMs = normaliseTtl(
      options.ttlMs ?? Math.max(DEFAULT_TTL_MS, caps.minTtlMs),
      caps.minTtlMs,
      caps.ttlGranularityMs,
    );
    const autoExtend = validateBoolean(options.autoExtend, 'autoExtend', true);
    const ref = this.#lockRef(name, options.native);
    const leased = this.#leased(this.#lockKind, ref, ttlMs, autoExtend);
    return { name, acquire: leased.acquire, tryAcquire: leased.tryAcquire, withLock: leased.withHeld };
  }

  semaphore(name: string, options: SemaphoreOptions): Semaphore {
    validateName(name);
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'must be an object with the number of permits');
    }
    rejectUnknownOptions(options, SEMAPHORE_OPTION_NAMES, 'semaphore options');
    const permits = validatePermits(options.permits);
    const support = this.capabilities.semaphore;
    const driver = this.#driver.semaphores;
    if (!support?.supported || !driver) {
      const why = support && !support.supported ? support.reason : 'this backend declares no semaphores';
      throw new UnsupportedError(this.backend, 'semaphores', why);
    }
    const ttlMs = normaliseTtl(
      options.ttlMs ?? Math.max(DEFAULT_TTL_MS, support.minTtlMs),
      support.minTtlMs,
      support.ttlGranularityMs,
    );
    const autoExtend = validateBoolean(options.autoExtend, 'autoExtend', true);
    const ref: SemaphoreRef = {
      ...this.#nativeRef(name, options.native, driver, 'native semaphore locations'),
      permits,
    };
    const kind: LeasedKind = {
      primitive: 'semaphore',
      driver: driver as unknown as LockDriver,
      caps: support,
    };
    const leased = this.#leased(kind, ref, ttlMs, autoExtend);
    return {
      name,
      permits,
      acquire: leased.acquire,
      tryAcquire: leased.tryAcquire,
      withPermit: leased.withHeld,
    };
  }

  readWriteLock(name: string, options: ReadWriteLockOptions = {}): ReadWriteLock {
    validateName(name);
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'must be an object');
    }
    rejectUnknownOptions(options, READ_WRITE_OPTION_NAMES, 'read-write lock options');
    const support = this.capabilities.readWrite;
    const driver = this.#driver.readWriteLocks;
    if (!support?.supported || !driver) {
      const why =
        support && !support.supported ? support.reason : 'this backend declares no read-write locks';
      throw new UnsupportedError(this.backend, 'read-write locks', why);
    }
    const ttlMs = normaliseTtl(
      options.ttlMs ?? Math.max(DEFAULT_TTL_MS, support.minTtlMs),
      support.minTtlMs,
      support.ttlGranularityMs,
    );
    const autoExtend = validateBoolean(options.autoExtend, 'autoExtend', true);
    const base = this.#nativeRef(name, options.native, driver, 'native read-write lock locations');
    const side = (mode: 'read' | 'write'): Lock => {
      const ref: ReadWriteRef = { ...base, mode };
      const kind: LeasedKind = { primitive: mode, driver: driver as unknown as LockDriver, caps: support };
      const leased = this.#leased(kind, ref, ttlMs, autoExtend);
      return { name, acquire: leased.acquire, tryAcquire: leased.tryAcquire, withLock: leased.withHeld };
    };
    return { name, read: side('read'), write: side('write') };
  }

  async inspect(name: string, options: Pick<LockOptions, 'native'> = {}): Promise<LockInspection> {
    validateName(name);
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', 'must be an object');
    rejectUnknownOptions(options, INSPECT_OPTION_NAMES, 'inspect options');
    const ref = this.#lockRef(name, options.native);
    const inspect = this.#driver.locks.inspect;
    if (!inspect)
      throw new UnsupportedError(this.backend, 'inspecting locks', 'the driver cannot tell who holds a lock');
    this.#assertOpen();
    const found = await inspect.call(this.#driver.locks, ref);
    return {
      name,
      holders: found.holders,
      ...(found.waiting === undefined ? {} : { waiting: found.waiting }),
    };
  }

  election(name: string, options: ElectionOptions = {}): Election {
    validateName(name);
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'must be an object');
    }
    rejectUnknownOptions(options, ELECTION_OPTION_NAMES, 'election options');
    const support = this.capabilities.election;
    const driver = this.#driver.elections;
    if (!support?.supported || !driver) {
      const why = support && !support.supported ? support.reason : 'this backend declares no elections';
      throw new UnsupportedError(this.backend, 'elections', why);
    }
    const ttlMs = normaliseTtl(
      options.ttlMs ?? Math.max(DEFAULT_TTL_MS, support.minTtlMs),
      support.minTtlMs,
      support.ttlGranularityMs,
    );
    const base = this.#nativeRef(name, options.native, driver, 'native election locations');
    // A candidacy is an acquire in the election's queue: core's wait, handles and renewal serve it.
    const candidacy: LockDriver<ElectionRef> = {
      tryAcquire: (request) => driver.tryCampaign(request),
      acquire: (request, signal) => driver.campaign(request, signal),
    };
    const kind: LeasedKind = {
      primitive: 'election',
      driver: candidacy as unknown as LockDriver,
      caps: support,
    };
    return new DriverElection({
      name,
      ref: { ...base, value: '' },
      driver,
      campaign: (value, waitMs, signal) => {
        let wait: number | undefined;
        try {
          wait = validateWaitMs(waitMs);
          validateSignal(signal);
        } catch (error) {
          return Promise.reject(error);
        }
        const ref: ElectionRef = { ...base, value };
        return this.#acquire(kind, ref, ttlMs, true, wait, signal);
      },
      closing: this.#closing.signal,
      assertOpen: () => this.#assertOpen(),
    });
  }

  /**
   * The acquire, try and run-while-held operations of one leased thing (a lock, a semaphore's
   * permits), over the driver of its kind. Invalid options reject the returned promise rather
   * than throwing synchronously.
   */
  #leased<R extends LockRef>(
    kind: LeasedKind,
    ref: R,
    ttlMs: number,
    autoExtend: boolean,
  ): {
    acquire: (opts?: AcquireOptions) => Promise<LockHandle>;
    tryAcquire: () => Promise<LockHandle | null>;
    withHeld: <T>(fn: (handle: LockHandle) => Promise<T> | T, opts?: AcquireOptions) => Promise<T>;
  } {
    // Not an async function: one promise layer fewer on the hot path.
    const acquire = (opts: AcquireOptions = {}, forceAutoExtend = false): Promise<LockHandle> => {
      let waitMs: number | undefined;
      let signal: AbortSignal | undefined;
      try {
        if (typeof opts !== 'object' || opts === null)
          throw new InvalidArgumentError('options', 'must be an object');
        rejectUnknownOptions(opts, ACQUIRE_OPTION_NAMES, 'acquire options');
        waitMs = validateWaitMs(opts.waitMs);
        signal = validateSignal(opts.signal);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#acquire(kind, ref, ttlMs, autoExtend || forceAutoExtend, waitMs, signal);
    };
    return {
      acquire: (opts) => acquire(opts),
      tryAcquire: () => this.#tryAcquire(kind, ref, ttlMs, autoExtend),
      withHeld: async (fn, opts) => {
        if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'must be a function');
        const handle = await acquire(opts, true);
        try {
          return await runWork(
            () => ({
              ...this.#about(kind, ref),
              attempt: (handle as LeaseHandle).attempt,
              fencingToken: kind.caps.fencing === 'monotonic' ? handle.fencingToken : undefined,
            }),
            async () => fn(handle),
          );
        } finally {
          await handle.release().catch(() => {});
        }
      },
    };
  }

  counter(name: string, options: CounterOptions = {}): Counter {
    validateName(name);
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'must be an object');
    }
    rejectUnknownOptions(options, COUNTER_OPTION_NAMES, 'counter options');
    const caps = this.capabilities.counter;
    const driver = this.#driver.counters;
    if (!caps.supported || !driver) {
      throw new UnsupportedError(this.backend, 'counters', 'this backend declares no counter support');
    }
    const min = options.min === undefined ? undefined : validateSafeInteger(options.min, 'min');
    const max = options.max === undefined ? undefined : validateSafeInteger(options.max, 'max');
    if (min !== undefined && max !== undefined && min > max) {
      throw new InvalidArgumentError('min', `must not exceed max (${min} > ${max})`);
    }
    if ((min !== undefined || max !== undefined) && !caps.bounds) {
      throw new UnsupportedError(this.backend, 'counter bounds', 'bounds cannot be enforced atomically here');
    }
    const ref: CounterRef = { ...resourceRef(this.prefix, name), min, max };
    return new BoundedCounter(
      ref,
      driver,
      () => this.#coalescer(ref, driver),
      () => this.#assertOpen(),
    );
  }

  #lockRef(name: string, native: LockOptions['native']): LockRef {
    return this.#nativeRef(name, native, this.#driver.locks, 'native lock locations');
  }

  /** The ref of `name`, at the native location `native` when one is given and `driver` accepts it. */
  #nativeRef(
    name: string,
    native: NativeLockLocation | undefined,
    driver: { validateNative?(native: NativeLockLocation): void },
    what: string,
  ): LockRef {
    const ref = resourceRef(this.prefix, name);
    if (native === undefined) return ref;
    const validate = driver.validateNative;
    if (!validate) throw new UnsupportedError(this.backend, what, 'no native recipe to share');
    validate.call(driver, native);
    return { ...ref, native };
  }

  on<K extends LockstepEventType>(type: K, listener: LockstepListener<K>): () => void {
    return this.#events.on(type, listener);
  }

  off<K extends LockstepEventType>(type: K, listener: LockstepListener<K>): void {
    this.#events.off(type, listener);
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closing.abort(new BackendUnavailableError(this.backend, 'the coordinator was closed'));
    await Promise.allSettled([...this.#waits]);
    await Promise.allSettled([...this.#handles].map((h) => h.release()));
    await this.#driver.close();
  }

  #assertOpen(): void {
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
  }

  async #acquire(
    kind: LeasedKind,
    ref: LockRef,
    ttlMs: number,
    autoExtend: boolean,
    waitMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<LockHandle> {
    this.#assertOpen();
    const started = performance.now();
    const attempt = nextAttempt();
    this.#events.emit('acquire', () => ({ ...this.#about(kind, ref), attempt, waitMs }));
    const letProcessExit = holdProcessOpen();
    try {
      for (let late = 1; ; late++) {
        const left =
          waitMs === undefined || late === 1
            ? waitMs
            : Math.max(0, Math.ceil(waitMs - (performance.now() - started)));
        const wait = waitForGrant({
          driver: kind.driver,
          request: new Attempt(ref, ttlMs),
          waitMs: left,
          signal,
          closing: this.#closing.signal,
          recheck: this.#recheck,
        });
        this.#waits.add(wait);
        let timed: TimedGrant;
        try {
          timed = await wait;
        } finally {
          this.#waits.delete(wait);
        }
        if (hasMargin(timed, ttlMs))
          return this.#handle(kind, ref, timed.grant, ttlMs, autoExtend, timed.sentAt, attempt, started);
        await this.#refuseLateGrant(kind, ref, timed, ttlMs, late);
        if (waitMs !== undefined && performance.now() - started >= waitMs) {
          throw new LockTimeoutError(ref.name, Math.round(performance.now() - started));
        }
      }
    } catch (error) {
      this.#reportFailure(kind, ref, attempt, started, error, signal);
      throw error;
    } finally {
      letProcessExit();
    }
  }

  /** The fields every event of `ref` carries. */
  #about(kind: LeasedKind, ref: ResourceRef): { backend: string; primitive: EventPrimitive; name: string } {
    return { backend: this.backend, primitive: kind.primitive, name: ref.name };
  }

  /** Reports how an acquire failed: timed out, aborted (or closed), or a backend error. */
  #reportFailure(
    kind: LeasedKind,
    ref: ResourceRef,
    attempt: number,
    started: number,
    error: unknown,
    signal: AbortSignal | undefined,
  ): void {
    const waitedMs = performance.now() - started;
    if (error instanceof LockTimeoutError) {
      this.#events.emit('timed-out', () => ({ ...this.#about(kind, ref), attempt, waitedMs }));
    } else if (signal?.aborted || this.#closing.signal.aborted) {
      this.#events.emit('aborted', () => ({ ...this.#about(kind, ref), attempt, waitedMs, reason: error }));
    } else {
      this.#events.emit('backend-error', () => ({
        backend: this.backend,
        operation: kind.primitive === 'lock' ? 'acquire' : `${kind.primitive}.acquire`,
        name: ref.name,
        attempt,
        cause: error,
      }));
    }
  }

  async #tryAcquire(
    kind: LeasedKind,
    ref: LockRef,
    ttlMs: number,
    autoExtend: boolean,
  ): Promise<LockHandle | null> {
    this.#assertOpen();
    const sentAt = performance.now();
    const attempt = nextAttempt();
    this.#events.emit('acquire', () => ({ ...this.#about(kind, ref), attempt, waitMs: 0 }));
    try {
      const grant = await kind.driver.tryAcquire(new Attempt(ref, ttlMs));
      if (!grant) {
        this.#events.emit('busy', () => ({ ...this.#about(kind, ref), attempt }));
        return null;
      }
      const timed = { grant, sentAt };
      if (hasMargin(timed, ttlMs))
        return this.#handle(kind, ref, grant, ttlMs, autoExtend, sentAt, attempt, sentAt);
      await this.#refuseLateGrant(kind, ref, timed, ttlMs, 1, true);
      return null; // not reached: refusing the only attempt throws
    } catch (error) {
      this.#reportFailure(kind, ref, attempt, sentAt, error, undefined);
      throw error;
    }
  }

  /**
   * Gives back a grant whose reply came too late to be of use, and throws once `late` such
   * grants came in a row (or at once with `giveUp`): the backend answers too slowly for this lease.
   */
  async #refuseLateGrant(
    kind: LeasedKind,
    ref: LockRef,
    timed: TimedGrant,
    ttlMs: number,
    late: number,
    giveUp = late >= MAX_LATE_GRANTS,
  ): Promise<void> {
    const arrivedAfter = Math.round(performance.now() - timed.sentAt);
    await timed.grant.release().catch(() => {});
    if (!giveUp) return;
    throw new BackendUnavailableError(
      this.backend,
      `${kind.primitive} "${ref.name}": ${late === 1 ? 'the grant' : `${late} grants in a row`} arrived with less than ` +
        `${LATE_GRANT_MARGIN * 100}% of the ${ttlMs} ms lease left (the last ${arrivedAfter} ms after its ` +
        `request was sent), so ${late === 1 ? 'it was' : 'each was'} given back: replies take too long for this ttlMs`,
    );
  }

  #handle(
    kind: LeasedKind,
    ref: ResourceRef,
    grant: LeaseGrant,
    ttlMs: number,
    autoExtend: boolean,
    sentAt: number,
    attempt: number,
    calledAt: number,
  ): LockHandle {
    const caps = kind.caps;
    const handle = new LeaseHandle({
      backend: this.backend,
      primitive: kind.primitive,
      lockName: ref.name,
      grant,
      ttlMs,
      autoExtend,
      fencing: caps.fencing,
      lease: caps.lease,
      minTtlMs: caps.minTtlMs,
      ttlGranularityMs: caps.ttlGranularityMs,
      sentAt,
      onSettled: (h) => this.#handles.delete(h),
      events: this.#events,
      attempt,
    });
    this.#events.emit('granted', () => ({
      ...this.#about(kind, ref),
      attempt,
      waitedMs: performance.now() - calledAt,
      fencingToken: caps.fencing === 'monotonic' ? grant.fencingToken : undefined,
    }));
    this.#handles.add(handle);
    if (this.#closing.signal.aborted) {
      void handle.release();
    }
    return handle;
  }

  #coalescer(ref: CounterRef, driver: CounterDriver): AddCoalescer {
    const key = JSON.stringify([ref.segment, ref.min ?? null, ref.max ?? null]);
    let coalescer = this.#coalescers.get(key);
    if (!coalescer) {
      const bounded = ref.min !== undefined || ref.max !== undefined;
      const created = new AddCoalescer(async (delta) => {
        try {
          return await driver.add(ref, delta);
        } finally {
          if (created.idle) this.#coalescers.delete(key);
        }
      }, bounded);
      coalescer = created;
      this.#coalescers.set(key, coalescer);
    }
    return coalescer;
  }
}

class BoundedCounter implements Counter {
  readonly name: string;
  readonly #ref: CounterRef;
  readonly #driver: CounterDriver;
  readonly #coalescer: () => AddCoalescer;
  readonly #assertOpen: () => void;

  constructor(ref: CounterRef, driver: CounterDriver, coalescer: () => AddCoalescer, assertOpen: () => void) {
    this.name = ref.name;
    this.#ref = ref;
    this.#driver = driver;
    this.#coalescer = coalescer;
    this.#assertOpen = assertOpen;
  }

  async get(): Promise<number> {
    this.#assertOpen();
    return this.#driver.get(this.#ref);
  }

  async increment(by: number = 1): Promise<number> {
    return this.#add(validateAmount(by));
  }

  async decrement(by: number = 1): Promise<number> {
    return this.#add(-validateAmount(by));
  }

  async set(value: number): Promise<void> {
    this.#assertInBounds(validateSafeInteger(value, 'value'));
    this.#assertOpen();
    await this.#driver.set(this.#ref, value);
  }

  async compareAndSet(expected: number, next: number): Promise<boolean> {
    validateSafeInteger(expected, 'expected');
    this.#assertInBounds(validateSafeInteger(next, 'next'));
    this.#assertOpen();
    return this.#driver.compareAndSet(this.#ref, expected, next);
  }

  async #add(delta: number): Promise<number> {
    this.#assertOpen();
    return this.#unwrap(await this.#coalescer().add(delta));
  }

  #unwrap(outcome: AddOutcome): number {
    if (outcome.ok) return outcome.value;
    throw new CounterBoundError(this.name, outcome.bound, outcome.limit, outcome.attempted);
  }

  #assertInBounds(value: number): void {
    const { min, max } = this.#ref;
    if (min !== undefined && value < min) throw new CounterBoundError(this.name, 'min', min, value);
    if (max !== undefined && value > max) throw new CounterBoundError(this.name, 'max', max, value);
  }
}

/**
 * One acquire's request to the driver. The owner id is drawn on first read: backends that
 * store an owner value read it, the others (a queue key is its own owner) never pay for it.
 */
class Attempt implements AcquireRequest {
  readonly lock: LockRef;
  readonly ttlMs: number;
  #ownerId: string | undefined;

  constructor(lock: LockRef, ttlMs: number) {
    this.lock = lock;
    this.ttlMs = ttlMs;
  }

  get ownerId(): string {
    this.#ownerId ??= randomOwnerId();
    return this.#ownerId;
  }
}
