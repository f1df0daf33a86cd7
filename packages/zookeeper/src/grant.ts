/**
 * A held lock (or read-write grant, permit, leadership): our child holding its place in its
 * queue, for as long as our session lives.
 *
 * States: `held` → `released` (release()) or `held` → `lost` (the session was lost, or our
 * node was deleted). Loss trips {@link ZkGrant.lost}; core turns that into the handle's
 * `LockLostError`. The grant names its session (`LeaseGrant.session`), so core sends no
 * renewals for it: the session's keep-alive keeps every lock on it, and its loss reaches each
 * of them once. A node deleted behind our back (an operator, a script) is noticed by a watch on
 * it, pushed by the server: set once per lock still held {@link WATCH_AFTER_MS} after its grant
 * ({@link DeletionWatches}), so holding costs no request per period.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import { type LeaseGrant, LossFlag, type SessionMember, withTimeout } from '@lockstep/core/driver';
import type { Contender } from './contender.js';
import { Code, hasCode, unavailable } from './errors.js';
import type { Leftovers } from './leftovers.js';
import { NODE_DELETED, type RawWatcher } from './raw.js';
import type { ZkSession } from './session.js';

/** Shortest wait for an `extend()` check's answer before it counts as failed. */
const MIN_CHECK_TIMEOUT_MS = 250;
/** A lock still held this long after its grant gets its deletion watch. */
export const WATCH_AFTER_MS = 1_000;

/** What the grants of one coordinator share. */
export interface GrantContext {
  readonly leftovers: Leftovers;
  readonly watches: DeletionWatches;
}

/** One granted lock. */
export class ZkGrant implements LeaseGrant, SessionMember {
  readonly fencingToken: bigint;
  readonly lost = new LossFlag();
  /**
   * Counted from the grant: the lock itself is its session's (which trips {@link lost} before
   * the server could expire it), so `ttlMs` only bounds a pure lease (`autoExtend: false`).
   */
  readonly validUntil: number;
  readonly #ctx: GrantContext;
  readonly #contender: Contender;
  #watcher: RawWatcher | undefined;
  #state: 'held' | 'released' | 'lost' = 'held';

  constructor(ctx: GrantContext, contender: Contender, ttlMs: number) {
    this.#ctx = ctx;
    this.#contender = contender;
    this.fencingToken = contender.token;
    this.validUntil = performance.now() + ttlMs;
    contender.session.trust.join(this);
    ctx.watches.add(this, contender.session);
  }

  /** The session's trust window: core keeps the handle by it instead of renewing. */
  get session() {
    return this.#contender.session.trust;
  }

  /** Whether it is still held, as far as this process knows. */
  get held(): boolean {
    return this.#state === 'held';
  }

  /** The path of our node (for tests and diagnostics). */
  get path(): string {
    return this.#contender.path;
  }

  /** Called by the session when it is lost. */
  sessionLost(reason: Error): void {
    // The server may still keep the session (and our node): if the same session comes back,
    // delete the node then, so the lock cannot stay held by nobody.
    if (this.#settle('lost', reason)) this.#ctx.leftovers.deleteLater(this.#contender.session, this.path);
  }

  /** `extend()`: a per-session lease has nothing to extend, only to verify (which also sets the watch). */
  async renew(ttlMs: number): Promise<boolean> {
    if (!this.held) return false;
    const timeoutMs = Math.max(MIN_CHECK_TIMEOUT_MS, ttlMs / 3);
    const unanswered = () => new BackendUnavailableError('zookeeper', `no answer within ${timeoutMs} ms`);
    try {
      await withTimeout(this.watch(), timeoutMs, unanswered);
    } catch (error) {
      throw unavailable(`checking ${this.path}`, error);
    }
    return this.held;
  }

  async release(): Promise<boolean> {
    if (!this.#settle('released')) return false;
    const { session, path } = this.#contender;
    try {
      await session.remove(path);
      return true;
    } catch (error) {
      if (hasCode(error, Code.NO_NODE)) return false;
      // Unknown outcome (or the session is lost while the server may keep it): delete it when we can.
      this.#ctx.leftovers.deleteLater(session, path);
      throw unavailable('release', error);
    }
  }

  async isHeld(): Promise<boolean> {
    if (!this.held) return false;
    try {
      return (await this.#contender.session.exists(this.path)) !== null && this.held;
    } catch (error) {
      throw unavailable('isHeld', error);
    }
  }

  /** Sets the watch on our node (one `getData`; the client keeps one per function and path). */
  async watch(): Promise<void> {
    this.#watcher ??= (event) => {
      if (event.getType() === NODE_DELETED && this.held) this.#gone('was deleted');
    };
    await this.#contender.session.getData(this.path, this.#watcher).catch((error: unknown) => {
      if (!hasCode(error, Code.NO_NODE)) throw error;
      this.#gone('is gone');
    });
  }

  /**
   * Gives up a grant the server no longer backs as ours (a leader whose node someone else
   * wrote): lost at once, and our node deleted so that it keeps nobody else out.
   */
  depose(why: string): void {
    const reason = new BackendUnavailableError('zookeeper', `our node ${this.path} ${why}`);
    if (this.#settle('lost', reason)) this.#ctx.leftovers.deleteLater(this.#contender.session, this.path);
  }

  #gone(what: string): void {
    this.#settle('lost', new BackendUnavailableError('zookeeper', `our lock node ${this.path} ${what}`));
  }

  /** Leaves `held` (for good); `false` when it already had. */
  #settle(state: 'released' | 'lost', reason?: unknown): boolean {
    if (!this.held) return false;
    this.#state = state;
    this.#contender.session.trust.leave(this);
    this.#ctx.watches.delete(this);
    this.#ctx.leftovers.leave(this.#contender.layout);
    if (state === 'lost') this.lost.abort(reason);
    return true;
  }
}

/**
 * The deletion watches of held locks, set in batches: most locks are released long before
 * {@link WATCH_AFTER_MS}, and a watch on each would be one more request per lock cycle. One
 * timer for all; a batch leaves in one socket write.
 */
export class DeletionWatches {
  /** Each grant waiting for its watch, and its session. */
  #waiting = new Map<ZkGrant, ZkSession>();
  #timer: NodeJS.Timeout | undefined;

  add(grant: ZkGrant, session: ZkSession): void {
    this.#waiting.set(grant, session);
    this.#timer ??= setTimeout(() => this.#arm(), WATCH_AFTER_MS).unref();
  }

  delete(grant: ZkGrant): void {
    this.#waiting.delete(grant);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#waiting.clear();
  }

  #arm(): void {
    this.#timer = undefined;
    const due = this.#waiting;
    this.#waiting = new Map();
    const [first] = due.values();
    first?.together(() => {
      for (const [grant, session] of due) {
        // A watch that could not be set is tried again next time (core's extend() checks too).
        grant.watch().catch(() => grant.held && this.add(grant, session));
      }
    });
  }
}
