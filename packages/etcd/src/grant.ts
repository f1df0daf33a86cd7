/**
 * A held lock: our key (create revision = fencing token) on a lease. The lease's session keeps
 * it — core's handle sends no renewals of its own — and tells it when the lease is lost or the
 * lease's key check finds our key gone.
 * @module
 */
import { LockLostError } from '@lockstep/core';
import { type LeaseGrant, LossFlag, type SessionPool, type Sweeper } from '@lockstep/core/driver';
import type { ExtraLeases } from './native.js';
import { remove, stillThere } from './queue.js';
import type { EtcdRpc } from './rpc.js';
import type { EtcdSession, LeaseKey } from './session.js';
import type { WatchChannel } from './watch.js';

/** What the locks of one coordinator share. */
export interface GrantContext {
  readonly rpc: EtcdRpc;
  readonly sessions: SessionPool<EtcdSession>;
  readonly extras: ExtraLeases;
  readonly watches: WatchChannel;
  /** Deletes whose outcome is unknown, retried in the background. */
  readonly sweeper: Sweeper;
  /** Held locks by fencing token → their key, for `lockOwnership`. */
  readonly owners: Map<bigint, string>;
  /** What every wait of the coordinator (locks, permits, candidacies) counts together. */
  readonly waits: WaitStats;
}

/** What the waits of one coordinator count together. */
export interface WaitStats {
  /** Why waiters woke up (for tests: a release must wake exactly the waiters it can let in). */
  readonly wakes: { deleted: number; broken: number; timer: number };
  /** Waits in progress: their fallback re-checks share one budget. */
  waiting: number;
}

/** Where one acquire's key is named: the lease it was first put on, and a slot of its queue. */
export interface Seat {
  readonly session: EtcdSession;
  readonly queue: string;
  readonly slot: number;
  /** A native key (named by its lease alone): it stays on that lease. */
  readonly native: boolean;
}

/** Takes a seat on `session` (one more key depends on it). */
export function takeSeat(session: EtcdSession, queue: string, native: boolean): Seat {
  session.retain();
  return { session, queue, slot: session.claimSlot(queue), native };
}

/** The seat's key is certainly gone: its slot is free, and `current` (its last lease) has one key fewer. */
export function leaveSeat(seat: Seat, current: EtcdSession = seat.session): void {
  seat.session.releaseSlot(seat.queue, seat.slot);
  current.unretain();
}

/**
 * Deletes `key` in the background (its put or delete had an unknown outcome, and a key left on a
 * shared lease would block its lock for as long as the coordinator lives). Done once it is gone
 * or its lease is (the keys go with it).
 */
export function deleteLater(ctx: GrantContext, key: string, seat: Seat, current = seat.session): void {
  ctx.sweeper.add({
    attempt: async () => {
      if (current.live) await remove(ctx.rpc, key);
      return 'done';
    },
    settled: () => leaveSeat(seat, current),
  });
}

/** One granted lock. */
export class EtcdGrant implements LeaseGrant, LeaseKey {
  readonly fencingToken: bigint;
  readonly token: bigint;
  readonly key: string;
  readonly lost = new LossFlag();
  writtenAt = performance.now();
  readonly #ctx: GrantContext;
  readonly #seat: Seat;
  readonly #name: string;
  #session: EtcdSession;
  #settled = false;

  constructor(ctx: GrantContext, seat: Seat, key: string, token: bigint, name: string) {
    this.#ctx = ctx;
    this.#seat = seat;
    this.#session = seat.session;
    this.#name = name;
    this.key = key;
    this.fencingToken = this.token = token;
    ctx.owners.set(token, key);
    seat.session.join(this);
  }

  /** The lease the key is on now. */
  get session(): EtcdSession {
    return this.#session;
  }

  /** The session lost the lease (every lock on it goes), or found our key gone from it (only ours). */
  sessionLost(reason: Error): void {
    if (this.#settled) return;
    this.#ctx.owners.delete(this.fencingToken);
    this.lost.abort(this.#session.live ? new LockLostError(this.#name, 'stolen', { cause: reason }) : reason);
  }

  /**
   * Proves the lease alive with a fresh keep-alive and our key still there, in parallel (only
   * `extend()` asks: the session keeps the lock otherwise). A different TTL than the lease's moves
   * the key onto the coordinator's lease for that TTL (same key, same create revision, so the same
   * fencing token); native keys keep their lease.
   */
  async renew(ttlMs: number): Promise<boolean> {
    if (ttlMs !== this.#session.ttlMs && !this.#seat.native && !(await this.#moveTo(ttlMs))) return false;
    const [alive, [held]] = await Promise.all([this.#session.confirm(), stillThere(this.#ctx.rpc, [this])]);
    return alive && held === true;
  }

  async release(): Promise<boolean> {
    if (this.#settled) return false;
    this.#settle();
    try {
      const removed = await remove(this.#ctx.rpc, this.key);
      leaveSeat(this.#seat, this.#session);
      return removed;
    } catch (error) {
      deleteLater(this.#ctx, this.key, this.#seat, this.#session);
      throw error;
    }
  }

  async isHeld(): Promise<boolean> {
    if (this.#settled || !this.#session.live) return false;
    const [held] = await stillThere(this.#ctx.rpc, [this]);
    return held === true;
  }

  async #moveTo(ttlMs: number): Promise<boolean> {
    const { sessions, rpc } = this.#ctx;
    const next = await sessions.session(ttlMs);
    next.retain();
    const key = rpc.key(this.key);
    const moved = await rpc
      .txn(
        {
          compare: [
            { key, target: 'Create', result: 'Equal', create_revision: this.fencingToken.toString() },
          ],
          success: [{ request_put: { key, ignore_value: true, lease: next.idText } }],
          failure: [],
        },
        'extend',
      )
      .catch((error: unknown) => {
        next.unretain();
        throw error;
      });
    if (!moved.succeeded || this.#settled) {
      next.unretain();
      return false;
    }
    const previous = this.#session;
    previous.leave(this);
    previous.unretain();
    this.#session = next;
    this.writtenAt = performance.now();
    next.join(this);
    return true;
  }

  #settle(): void {
    this.#settled = true;
    this.#session.leave(this);
    this.#ctx.owners.delete(this.fencingToken);
  }
}
