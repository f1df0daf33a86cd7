/**
 * What a coordinator reports while it works: acquires attempted, granted, timed out, aborted
 * or refused; locks released and lost; renewals that failed; backend errors. Two ways to
 * listen, fed by one emit:
 *
 * - `coordinator.on(type, listener)`, for the application that owns the coordinator;
 * - Node's `diagnostics_channel` (`lockstep:<type>`, e.g. `lockstep:granted`), for APM agents
 *   and `@lockstep/core/otel`, which see every coordinator in the process without lockstep
 *   knowing them.
 *
 * Cheap when nobody listens: an emit first asks whether anyone listens (a length and a
 * `hasSubscribers` read) and only then builds the event object.
 * @module
 */
import { type Channel, channel } from 'node:diagnostics_channel';
import type { LockLossReason } from './errors.js';

/** Which primitive an event is about. */
export type EventPrimitive = 'lock' | 'semaphore' | 'read' | 'write' | 'election';

/** Fields every lock event carries. */
export interface LockEventBase {
  /** The backend, e.g. `"redis"`. */
  readonly backend: string;
  readonly primitive: EventPrimitive;
  /** The lock's name, as given. */
  readonly name: string;
  /** Numbers one acquire (or try) within the process: its grant, release and loss carry the same. */
  readonly attempt: number;
}

/** An `acquire()` (or `tryAcquire()`, with `waitMs: 0`) began. */
export interface AcquireEvent extends LockEventBase {
  /** `undefined`: wait until granted or aborted. */
  readonly waitMs: number | undefined;
}

/** The lock was granted. */
export interface GrantedEvent extends LockEventBase {
  /** From the call to the grant. */
  readonly waitedMs: number;
  /** `undefined` on backends declaring `fencing: 'none'`. */
  readonly fencingToken: bigint | undefined;
}

/** A `tryAcquire()` found the lock held. */
export interface BusyEvent extends LockEventBase {}

/** `waitMs` passed first (`LockTimeoutError`). */
export interface TimedOutEvent extends LockEventBase {
  readonly waitedMs: number;
}

/** The caller's signal aborted the wait, or the coordinator closed under it. */
export interface AbortedEvent extends LockEventBase {
  readonly waitedMs: number;
  readonly reason: unknown;
}

/** A held lock was released (by `release()`, `withLock` or `close()`). */
export interface ReleasedEvent extends LockEventBase {
  readonly heldMs: number;
}

/** A renewal could not reach the backend; it is retried until the lease would end. */
export interface RenewalFailedEvent extends LockEventBase {
  readonly cause: unknown;
  /** How long the lease certainly lasts from now; at 0 the lock is reported lost. */
  readonly leftMs: number;
}

/** A held lock was lost (its signal aborted). */
export interface LostEvent extends LockEventBase {
  readonly reason: LockLossReason;
  readonly cause: unknown;
  readonly heldMs: number;
}

/** An operation failed because the backend could not be reached or answered with an error. */
export interface BackendErrorEvent {
  readonly backend: string;
  /** What was being done: `"acquire"`, `"release"`, `"counter.increment"`, … */
  readonly operation: string;
  /** The lock or counter's name, when there is one. */
  readonly name: string | undefined;
  /** The acquire it ended, for `operation: 'acquire'`. */
  readonly attempt?: number;
  readonly cause: unknown;
}

/** Every event a coordinator reports, by type. */
export interface LockstepEvents {
  acquire: AcquireEvent;
  granted: GrantedEvent;
  busy: BusyEvent;
  'timed-out': TimedOutEvent;
  aborted: AbortedEvent;
  released: ReleasedEvent;
  'renewal-failed': RenewalFailedEvent;
  lost: LostEvent;
  'backend-error': BackendErrorEvent;
}

/** One of {@link LockstepEvents}' types. */
export type LockstepEventType = keyof LockstepEvents;

/** A listener of events of type `K`. */
export type LockstepListener<K extends LockstepEventType> = (event: LockstepEvents[K]) => void;

const EVENT_TYPES: readonly LockstepEventType[] = [
  'acquire',
  'granted',
  'busy',
  'timed-out',
  'aborted',
  'released',
  'renewal-failed',
  'lost',
  'backend-error',
];

/** The `diagnostics_channel` name of an event type: `lockstep:<type>`. */
export function eventChannelName(type: LockstepEventType): string {
  return `lockstep:${type}`;
}

const CHANNELS = Object.fromEntries(EVENT_TYPES.map((type) => [type, channel(eventChannelName(type))])) as {
  readonly [K in LockstepEventType]: Channel;
};

let attempts = 0;

/** A new attempt number (process-wide, so channel subscribers can tell attempts apart). */
export function nextAttempt(): number {
  attempts = (attempts + 1) % Number.MAX_SAFE_INTEGER;
  return attempts;
}

/** One coordinator's listeners, and the emit that also publishes to the channels. */
export class EventHub {
  readonly #listeners: { [K in LockstepEventType]?: Array<LockstepListener<K>> } = {};

  /** Adds a listener; returns the function that removes it. */
  on<K extends LockstepEventType>(type: K, listener: LockstepListener<K>): () => void {
    if (!EVENT_TYPES.includes(type)) throw new TypeError(`unknown lockstep event type "${String(type)}"`);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    this.#listeners[type] ??= [];
    (this.#listeners[type] as Array<LockstepListener<K>>).push(listener);
    return () => this.off(type, listener);
  }

  /** Removes a listener added with {@link on}. */
  off<K extends LockstepEventType>(type: K, listener: LockstepListener<K>): void {
    const list = this.#listeners[type] as Array<LockstepListener<K>> | undefined;
    const index = list?.indexOf(listener) ?? -1;
    if (index >= 0) list!.splice(index, 1);
  }

  /** Whether anyone listens to `type` (here or on its channel). */
  wants(type: LockstepEventType): boolean {
    return (this.#listeners[type]?.length ?? 0) > 0 || CHANNELS[type].hasSubscribers;
  }

  /**
   * Builds the event with `build` only when someone listens, then tells the listeners and the
   * channel. A listener that throws disturbs neither the lock operation nor other listeners;
   * its error becomes a process warning, so it is seen rather than lost.
   */
  emit<K extends LockstepEventType>(type: K, build: () => LockstepEvents[K]): void {
    if (!this.wants(type)) return;
    const event = build();
    for (const listener of [...((this.#listeners[type] as Array<LockstepListener<K>> | undefined) ?? [])]) {
      try {
        listener(event);
      } catch (error) {
        process.emitWarning(
          `a lockstep "${type}" listener threw: ${error instanceof Error ? error.message : String(error)}`,
          { type: 'LockstepListenerError', detail: error instanceof Error ? error.stack : undefined },
        );
      }
    }
    const ch = CHANNELS[type];
    if (ch.hasSubscribers) ch.publish(event);
  }
}

/** What an instrumentation learns about the work run under a lock (`withLock`). */
export interface WorkInfo {
  readonly backend: string;
  readonly primitive: EventPrimitive;
  readonly name: string;
  readonly attempt: number;
  readonly fencingToken: bigint | undefined;
}

/**
 * Runs `work` under a lock — inside the instrumentation's context when one is installed (so
 * spans the work creates become children of the lock's span), else directly.
 */
export type WorkWrapper = <T>(info: WorkInfo, work: () => Promise<T>) => Promise<T>;

const WORK_WRAPPER = Symbol.for('lockstep.instrumentation.work');

/** Installs (or, with `undefined`, removes) the process-wide {@link WorkWrapper}. @internal */
export function setWorkWrapper(wrapper: WorkWrapper | undefined): void {
  (globalThis as { [WORK_WRAPPER]?: WorkWrapper })[WORK_WRAPPER] = wrapper;
}

/** Runs `work` through the installed wrapper, if any. */
export function runWork<T>(info: () => WorkInfo, work: () => Promise<T>): Promise<T> {
  const wrapper = (globalThis as { [WORK_WRAPPER]?: WorkWrapper })[WORK_WRAPPER];
  return wrapper ? wrapper(info(), work) : work();
}
