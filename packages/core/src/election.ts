/**
 * Elections over a driver: a candidacy is an acquire in the election's queue, a leadership is a
 * lease handle whose fencing token is the term, and observing is the driver's change feed turned
 * into an async iterator that loses nothing.
 *
 * What core adds on every backend: the suspect state (renewals failing, lease not over), a
 * deposed leader's `proclaim` rejecting with `LockLostError` (the server checks the term), and
 * `run`, which campaigns again after a loss with backoff until told to stop.
 * @module
 */
import { sleep } from './abort.js';
import type { ElectionDriver, ElectionRef, LeadershipGrant } from './driver.js';
import { InvalidArgumentError, LockLostError } from './errors.js';
import type { LeaseHandle } from './lease.js';
import { Backoff } from './recipes/failures.js';
import type {
  CampaignOptions,
  Election,
  LeaderInfo,
  Leadership,
  LockHandle,
  ObserveOptions,
  RunOptions,
} from './types.js';

/** What an election needs from its coordinator. */
export interface ElectionContext {
  readonly name: string;
  readonly ref: ElectionRef;
  readonly driver: ElectionDriver;
  /** Acquires leadership of `ref` with `value` through core's wait (timeouts, aborts, close). */
  readonly campaign: (
    value: string,
    waitMs: number | undefined,
    signal: AbortSignal | undefined,
  ) => Promise<LockHandle>;
  /** Aborted when the coordinator closes (ends observers). */
  readonly closing: AbortSignal;
  readonly assertOpen: () => void;
}

/** Validates a proclaimed value: any string up to 64 KiB. */
export function validateValue(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string')
    throw new InvalidArgumentError('value', `must be a string, got ${typeof value}`);
  if (Buffer.byteLength(value) > 65_536) throw new InvalidArgumentError('value', 'must be at most 64 KiB');
  return value;
}

/** The core implementation of {@link Election}. */
export class DriverElection implements Election {
  readonly name: string;
  readonly #ctx: ElectionContext;

  constructor(ctx: ElectionContext) {
    this.#ctx = ctx;
    this.name = ctx.name;
  }

  async campaign(options: CampaignOptions = {}): Promise<Leadership> {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('options', 'must be an object');
    const value = validateValue(options.value);
    const handle = await this.#ctx.campaign(value, options.waitMs, options.signal);
    return new HandleLeadership(this.name, handle as LeaseHandle, value);
  }

  async leader(): Promise<LeaderInfo | null> {
    this.#ctx.assertOpen();
    const leader = await this.#ctx.driver.leader(this.#ctx.ref);
    return leader && { value: leader.value, term: leader.term };
  }

  observe(options: ObserveOptions = {}): AsyncIterableIterator<LeaderInfo | null> {
    this.#ctx.assertOpen();
    return observeChanges(this.#ctx, options.signal);
  }

  async run(fn: (leadership: Leadership) => Promise<void> | void, options: RunOptions): Promise<void> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'must be a function');
    const signal = options?.signal;
    if (!(signal instanceof AbortSignal))
      throw new InvalidArgumentError('signal', 'run() needs an AbortSignal to stop it');
    const value = validateValue(options.value);
    // After a loss (or an error of fn's), wait before campaigning again: a leader that keeps
    // losing its lease should not hammer the backend.
    const backoff = new Backoff(100, 5_000);
    while (!signal.aborted) {
      let leadership: Leadership;
      try {
        leadership = await this.campaign({ value, signal });
      } catch (error) {
        if (signal.aborted) break;
        if (this.#ctx.closing.aborted) throw error;
        await sleep(backoff.next(), signal);
        continue;
      }
      let lost = false;
      try {
        await fn(leadership);
        backoff.reset();
      } catch {
        lost = true;
      } finally {
        lost ||= leadership.signal.aborted;
        await leadership.resign().catch(() => false);
      }
      if (lost && !signal.aborted) await sleep(backoff.next(), signal);
    }
  }
}

/** {@link Leadership} over the lease handle of the campaign's grant. */
class HandleLeadership implements Leadership {
  readonly name: string;
  readonly #handle: LeaseHandle;
  #value: string;
  #resigned = false;

  constructor(name: string, handle: LeaseHandle, value: string) {
    this.name = name;
    this.#handle = handle;
    this.#value = value;
  }

  get term(): bigint {
    return this.#handle.fencingToken;
  }

  get value(): string {
    return this.#value;
  }

  get signal(): AbortSignal {
    return this.#handle.signal;
  }

  get state(): Leadership['state'] {
    if (this.#resigned) return 'resigned';
    if (this.#handle.state === 'lost') return 'lost';
    if (this.#handle.state === 'released') return 'resigned';
    return this.#handle.suspect ? 'suspect' : 'leading';
  }

  async proclaim(value: string): Promise<void> {
    const next = validateValue(value);
    if (this.#handle.state !== 'held')
      throw new LockLostError(this.name, 'stolen', { cause: 'not leading any more' });
    const grant = this.#handle.leaseGrant as LeadershipGrant;
    if (!(await grant.proclaim(next))) {
      this.#handle.abandon('stolen');
      throw new LockLostError(this.name, 'stolen', { cause: 'a newer leader holds the election' });
    }
    this.#value = next;
  }

  async resign(): Promise<boolean> {
    this.#resigned = true;
    return this.#handle.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.resign();
  }
}

/** The driver's change feed as an async iterator: every change in order, `null` for no leader. */
function observeChanges(
  ctx: ElectionContext,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<LeaderInfo | null> {
  const stop = new AbortController();
  const onStop = () => stop.abort();
  signal?.addEventListener('abort', onStop, { once: true });
  ctx.closing.addEventListener('abort', onStop, { once: true });
  if (signal?.aborted || ctx.closing.aborted) stop.abort();
  const buffered: Array<LeaderInfo | null> = [];
  let waiting: ((result: IteratorResult<LeaderInfo | null>) => void) | undefined;
  let failWaiting: ((error: unknown) => void) | undefined;
  let failure: unknown;
  let started: Promise<void> | undefined;
  const finish = () => {
    signal?.removeEventListener('abort', onStop);
    ctx.closing.removeEventListener('abort', onStop);
    stop.abort();
    const resolve = waiting;
    waiting = undefined;
    resolve?.({ value: undefined, done: true });
  };
  stop.signal.addEventListener('abort', finish, { once: true });
  const start = () => {
    started ??= ctx.driver
      .observe(
        ctx.ref,
        (leader) => {
          if (stop.signal.aborted) return;
          const info = leader && { value: leader.value, term: leader.term };
          if (waiting) {
            const resolve = waiting;
            waiting = undefined;
            resolve({ value: info, done: false });
          } else buffered.push(info);
        },
        stop.signal,
      )
      .catch((error: unknown) => {
        failure = error;
        const reject = failWaiting;
        waiting = undefined;
        failWaiting = undefined;
        reject?.(error);
      });
    return started;
  };
  const iterator: AsyncIterableIterator<LeaderInfo | null> = {
    next: async () => {
      void start();
      if (buffered.length > 0) return { value: buffered.shift()!, done: false };
      if (failure !== undefined) throw failure;
      if (stop.signal.aborted) return { value: undefined, done: true };
      return new Promise((resolve, reject) => {
        waiting = resolve;
        failWaiting = reject;
      });
    },
    return: async () => {
      stop.abort();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
