/**
 * A held lock: our child at the head of the queue, for as long as our session lives.
 *
 * States: `held` → `released` (release()) or `held` → `lost` (the session was lost, or our
 * node was deleted). Loss aborts {@link ZkGrant.lost}; core turns that into the handle's
 * `LockLostError`. A renewal proves the node still there and re-arms a watch on it, so a
 * deletion (by an operator, or the server expiring the session) is noticed at once.
 * @module
 */
import { BackendUnavailableError, type LeaseGrant, LossFlag, type LossNotice } from '@lockstep/core';
import type { Contender } from './contender.js';
import { Code, hasCode, unavailable } from './errors.js';
import { EventType, type RawWatchEvent } from './raw.js';
import type { QueueReaper } from './reaper.js';
import type { SessionMember } from './session.js';
import type { Sweeper } from './sweeper.js';

/** What grants share within one coordinator. */
export interface GrantContext {
  readonly sweeper: Sweeper;
  readonly reaper: QueueReaper;
}

type State = 'held' | 'released' | 'lost';

/** Shortest wait for a renewal's answer before it counts as failed (core then retries). */
const MIN_RENEW_TIMEOUT_MS = 250;

/** One granted lock. */
export class ZkGrant implements LeaseGrant, SessionMember {
  readonly fencingToken: bigint;
  readonly #ctx: GrantContext;
  readonly #contender: Contender;
  readonly #lost = new LossFlag();
  /** One watcher function per grant: the client keeps a given function once per path. */
  readonly #watcher = (event: RawWatchEvent) => this.#onNodeEvent(event);
  #state: State = 'held';

  constructor(ctx: GrantContext, contender: Contender) {
    this.#ctx = ctx;
    this.#contender = contender;
    this.fencingToken = contender.token;
    contender.session.join(this);
  }

  /** Called by the session when it is lost. */
  sessionLost(reason: unknown): void {
    this.#lose(reason, true);
  }

  get lost(): LossNotice {
    return this.#lost;
  }

  /** The path of our node (for tests and diagnostics). */
  get path(): string {
    return this.#contender.path;
  }

  /** Per-session lease: nothing to extend, only to verify (one getData, re-arming our watch). */
  async renew(ttlMs: number): Promise<boolean> {
    if (this.#state !== 'held') return false;
    const { session, path } = this.#contender;
    try {
      await withTimeout(
        session.getData(path, this.#watcher),
        Math.max(MIN_RENEW_TIMEOUT_MS, ttlMs / 3),
        `renewal check of ${path}`,
      );
      return this.#state === 'held';
    } catch (error) {
      if (hasCode(error, Code.NO_NODE)) {
        this.#lose(new BackendUnavailableError('zookeeper', `our lock node ${path} is gone`), false);
        return false;
      }
      throw unavailable('renew', error);
    }
  }

  async release(): Promise<boolean> {
    if (this.#state !== 'held') return false;
    this.#state = 'released';
    this.#contender.session.leave(this);
    const { session, path, layout } = this.#contender;
    try {
      await session.remove(path);
      return true;
    } catch (error) {
      if (hasCode(error, Code.NO_NODE)) return false;
      // Unknown outcome (or the session is lost while the server may keep it): delete it when we can.
      this.#ctx.sweeper.deleteLater(session, path);
      throw unavailable('release', error);
    } finally {
      this.#ctx.reaper.leave(layout);
    }
  }

  async isHeld(): Promise<boolean> {
    if (this.#state !== 'held') return false;
    const { session, path } = this.#contender;
    try {
      const held = (await session.exists(path)) !== null;
      return held && this.#state === 'held';
    } catch (error) {
      throw unavailable('isHeld', error);
    }
  }

  #onNodeEvent(event: RawWatchEvent): void {
    if (event.getType() === EventType.NODE_DELETED) {
      this.#lose(
        new BackendUnavailableError('zookeeper', `our lock node ${this.#contender.path} was deleted`),
        false,
      );
    }
  }

  /**
   * `sweep`: the session is lost but the server may still keep it (and our node): if the
   * same session comes back, delete the node then, so the lock cannot stay held by nobody.
   */
  #lose(reason: unknown, sweep: boolean): void {
    if (this.#state !== 'held') return;
    this.#state = 'lost';
    this.#contender.session.leave(this);
    const { session, path, layout } = this.#contender;
    if (sweep) this.#ctx.sweeper.deleteLater(session, path);
    this.#ctx.reaper.leave(layout);
    this.#lost.abort(reason);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new BackendUnavailableError('zookeeper', `${what}: no answer within ${Math.round(ms)} ms`)),
      ms,
    );
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
