/**
 * A held lock: our key (create revision = fencing token) on a session's lease. Core renews it
 * at about ttl/3 through {@link EtcdGrant.renew} and watches {@link EtcdGrant.lost}.
 * @module
 */
import { type LeaseGrant, LossFlag, type LossNotice } from '@lockstep/core';
import { remove, stillQueued } from './queue.js';
import type { EtcdRpc } from './rpc.js';
import type { LeaseSession, SessionFollower, SessionLostError } from './session.js';
import type { Seat, SessionPool } from './sessions.js';
import type { KeySweeper } from './sweeper.js';
import type { WatchChannel } from './watch.js';

/** What grants (and the lock driver) share within one coordinator. */
export interface GrantContext {
  readonly rpc: EtcdRpc;
  readonly sessions: SessionPool;
  readonly watches: WatchChannel;
  readonly sweeper: KeySweeper;
  /** Held locks by fencing token → their key, for {@link lockOwnership}. */
  readonly owners: Map<bigint, string>;
}

/** One granted lock. */
export class EtcdGrant implements LeaseGrant, SessionFollower {
  readonly fencingToken: bigint;
  readonly validUntil: number;
  readonly #ctx: GrantContext;
  readonly #seat: Seat;
  readonly #key: string;
  readonly #lost = new LossFlag();
  #session: LeaseSession;
  #settled = false;
  #followed: LeaseSession | undefined;

  constructor(ctx: GrantContext, seat: Seat, key: string, token: bigint) {
    const { session } = seat;
    this.#ctx = ctx;
    this.#seat = seat;
    this.#session = session;
    this.#key = key;
    this.fencingToken = token;
    // The lease (so the lock) certainly lives until its last confirmed keep-alive + TTL.
    this.validUntil = session.certainUntil;
    ctx.owners.set(token, key);
    this.#follow(session);
  }

  /** Aborted when the lease under our key is gone (every lock on that lease is lost with it). */
  get lost(): LossNotice {
    return this.#lost;
  }

  /**
   * Proves the lease alive with a fresh keep-alive and our key still there, in parallel. A
   * different TTL than the lease's moves the key onto the coordinator's lease for that TTL
   * (same key, same create revision, so the same fencing token); native locks keep their lease.
   */
  async renew(ttlMs: number): Promise<boolean> {
    if (ttlMs !== this.#session.ttlMs && !this.#seat.exclusive) {
      if (!(await this.#moveTo(ttlMs))) return false;
    }
    const [alive, held] = await Promise.all([
      this.#session.confirm(),
      stillQueued(this.#ctx.rpc, this.#key, this.fencingToken),
    ]);
    return alive && held;
  }

  async release(): Promise<boolean> {
    if (this.#settled) return false;
    try {
      const removed = await remove(this.#ctx.rpc, this.#key);
      this.#settle();
      return removed;
    } catch (error) {
      // Unknown outcome: a key left on a shared lease would block the lock, so keep deleting it.
      const session = this.#session;
      this.#settled = true;
      this.#unfollow();
      this.#ctx.owners.delete(this.fencingToken);
      this.#ctx.sweeper.add(this.#key, session, () => this.#ctx.sessions.leave(this.#seat, session));
      throw error;
    }
  }

  async isHeld(): Promise<boolean> {
    if (this.#settled || !this.#session.usable) return false;
    return stillQueued(this.#ctx.rpc, this.#key, this.fencingToken);
  }

  async #moveTo(ttlMs: number): Promise<boolean> {
    const { sessions, rpc } = this.#ctx;
    const next = sessions.sharedSession(ttlMs);
    sessions.use(next);
    try {
      await next.ready;
      const key = rpc.key(this.#key);
      const res = await rpc.txn(
        {
          compare: [
            { key, target: 'Create', result: 'Equal', create_revision: this.fencingToken.toString() },
          ],
          success: [{ request_put: { key, ignore_value: true, lease: next.idText } }],
          failure: [],
        },
        'extend',
      );
      if (!res.succeeded) {
        sessions.unuse(next, false);
        return false;
      }
    } catch (error) {
      sessions.unuse(next, false);
      throw error;
    }
    const previous = this.#session;
    this.#session = next;
    this.#follow(next);
    sessions.unuse(previous, false);
    return true;
  }

  #follow(session: LeaseSession): void {
    this.#unfollow();
    this.#followed = session;
    session.follow(this);
  }

  #unfollow(): void {
    this.#followed?.unfollow(this);
    this.#followed = undefined;
  }

  /** The followed session is lost: so is every lock on its lease. */
  onSessionLost(reason: SessionLostError): void {
    if (this.#settled || this.#followed === undefined) return;
    this.#ctx.owners.delete(this.fencingToken);
    this.#lost.abort(reason);
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#unfollow();
    this.#ctx.owners.delete(this.fencingToken);
    this.#ctx.sessions.leave(this.#seat, this.#session);
  }
}
