/**
 * The drivers of everything that waits in a queue — locks, semaphore permits, read and write
 * locks, election candidacies: enqueue in one transaction, wait for the keys ahead in core's
 * `waitInQueue` loop, re-check. Each primitive only says where its keys go and which keys ahead
 * hold it back (its {@link QueueShape}). Core adds everything above it (validation, timeouts,
 * handles).
 * @module
 */
import { BackendUnavailableError, type HolderInfo, type NativeLockLocation } from '@lockstep/core';
import { type AcquireRequest, type LockDriver, type LockRef, waitInQueue } from '@lockstep/core/driver';
import { SortOrder, SortTarget } from 'etcd3';
import { isLeaseNotFound, unavailable } from './errors.js';
import { deleteLater, EtcdGrant, type GrantContext, leaveSeat, type Seat, takeSeat } from './grant.js';
import { lockQueue, memberKeyHex, type QueueLayout, validateNativePrefix } from './keys.js';
import { type Contender, type Enqueued, enqueue, GRANTED, remove, tryEnqueue } from './queue.js';
import { QueueWaiter } from './waiter.js';

/** Where a primitive's contender puts its key, and what it judges its turn by. */
export interface QueueShape {
  /** Where our key goes. */
  readonly layout: QueueLayout;
  /** The prefix whose older keys hold us back: the queue itself, or a reader's writers. */
  readonly holdsBack: string;
  /** A semaphore's declared permits. */
  readonly permits?: number;
  /** What our key holds (a candidate's value). */
  readonly value?: Buffer;
}

/** Makes the grant of an acquire that holds (a lock's, or a leadership with `proclaim`). */
export type GrantMaker<R extends LockRef, G extends EtcdGrant> = (
  ctx: GrantContext,
  seat: Seat,
  key: string,
  token: bigint,
  request: AcquireRequest<R>,
) => G;

/** One acquire's seat (lease and slot) and key. */
interface Attempt {
  readonly seat: Seat;
  readonly contender: Contender;
  readonly plan: Plan;
}

const plainGrant = <R extends LockRef>(
  ctx: GrantContext,
  seat: Seat,
  key: string,
  token: bigint,
  request: AcquireRequest<R>,
) => new EtcdGrant(ctx, seat, key, token, request.lock.name);

/** Queue operations of one primitive over one coordinator's leases, watch stream and sweeper. */
export class EtcdQueues<R extends LockRef, G extends EtcdGrant = EtcdGrant> implements LockDriver<R> {
  protected readonly ctx: GrantContext;
  readonly #shapeOf: (ref: R) => QueueShape;
  readonly #makeGrant: GrantMaker<R, G>;
  readonly #plans = new WeakMap<R, Plan>();

  constructor(ctx: GrantContext, shapeOf: (ref: R) => QueueShape, makeGrant?: GrantMaker<R, G>) {
    this.ctx = ctx;
    this.#shapeOf = shapeOf;
    this.#makeGrant = makeGrant ?? (plainGrant as unknown as GrantMaker<R, G>);
  }

  tryAcquire(request: AcquireRequest<R>): Promise<G | null> {
    return this.#acquire(request, undefined);
  }

  acquire(request: AcquireRequest<R>, signal: AbortSignal): Promise<G> {
    // Not async: one promise layer fewer per acquire.
    return signal.aborted ? Promise.reject(signal.reason) : this.#acquire(request, signal);
  }

  /** With `signal`, waits in the queue until granted; without, only a try (`null` when refused). */
  #acquire(request: AcquireRequest<R>, signal: AbortSignal): Promise<G>;
  #acquire(request: AcquireRequest<R>, signal: undefined): Promise<G | null>;
  async #acquire(request: AcquireRequest<R>, signal: AbortSignal | undefined): Promise<G | null> {
    for (let retry = 0; ; retry++) {
      const begun = this.#begin(request);
      const attempt = begun instanceof Promise ? await begun : begun;
      const { plan } = attempt;
      let enqueued: Enqueued | undefined;
      try {
        // The light try inline (not in a helper of its own): one promise layer fewer per acquire.
        const light = plan.lightTry && (signal === undefined || !plan.contended);
        const token = light
          ? await tryEnqueue(this.ctx.rpc, attempt.contender, attempt.seat.session.idText)
          : undefined;
        if (token !== undefined) enqueued = { token, position: GRANTED };
        else if (signal || !plan.lightTry) enqueued = await this.#join(attempt);
      } catch (error) {
        if (!this.#leaseVanished(attempt, error)) deleteLater(this.ctx, attempt.contender.key, attempt.seat);
        else if (retry === 0) continue;
        throw unavailable(signal ? 'enqueue' : 'try-acquire', error);
      }
      if (enqueued === undefined) {
        leaveSeat(attempt.seat);
        return null;
      }
      if (enqueued.position.kind !== 'granted' || signal?.aborted) {
        // A try that found no free place leaves the queue it had to join to find out.
        if (!signal) {
          await this.#withdraw(attempt);
          return null;
        }
        try {
          await this.#wait(attempt, enqueued, signal);
          // The grant may have raced an abort: the caller has gone, so give it back.
          signal.throwIfAborted();
        } catch (error) {
          await this.#withdraw(attempt);
          throw signal.aborted ? signal.reason : error;
        }
      }
      return this.#makeGrant(this.ctx, attempt.seat, attempt.contender.key, enqueued.token, request);
    }
  }

  /**
   * Joins the queue when the light try (put only if nobody is ahead, tried first because most
   * acquires find the lock free) was refused — or skipped: a lock this coordinator last found
   * taken goes straight here (refused, the light try would still cost a raft write) until this
   * finds nobody ahead again.
   */
  async #join({ contender, seat, plan }: Attempt): Promise<Enqueued> {
    const enqueued = await enqueue(this.ctx.rpc, contender, seat.session.idText);
    plan.contended = enqueued.position.kind !== 'granted';
    return enqueued;
  }

  /** Waits in the queue until our turn; throws when our key or its lease is gone. */
  async #wait(attempt: Attempt, { token, position }: Enqueued, signal: AbortSignal): Promise<void> {
    const waiter = new QueueWaiter(this.ctx, attempt, token);
    this.ctx.waits.waiting++;
    try {
      await waitInQueue(waiter, position, signal, undefined, lostWhileQueued);
    } finally {
      this.ctx.waits.waiting--;
      waiter.close();
    }
  }

  /**
   * Takes a seat (a lease and a slot) and names our key — synchronously when the coordinator's
   * lease for the TTL is granted and live (the common case: no turn of the event loop).
   */
  #begin(request: AcquireRequest<R>): Attempt | Promise<Attempt> {
    const plan = this.#plan(request.lock);
    const { queue, native } = plan.shape.layout;
    const shared = native ? undefined : this.ctx.sessions.current(request.ttlMs);
    if (shared) return plan.attempt(takeSeat(shared, queue, false));
    return this.#seat(request.ttlMs, plan.shape.layout).then(
      (seat) => plan.attempt(seat),
      (error: unknown) => {
        throw unavailable('lease grant', error);
      },
    );
  }

  /** A seat once a lease is granted; a native key needs one with slot 0 of its queue free. */
  async #seat(ttlMs: number, { queue, native }: QueueLayout): Promise<Seat> {
    const { sessions, extras } = this.ctx;
    for (;;) {
      const shared = sessions.current(ttlMs) ?? (await sessions.session(ttlMs));
      if (shared.live && (!native || shared.slotFree(queue))) return takeSeat(shared, queue, native);
      if (!native) continue;
      const extra = await extras.lease(ttlMs, queue);
      if (extra.live && extra.slotFree(queue)) return takeSeat(extra, queue, true);
    }
  }

  /** What is known of a ref (cached: core hands the same ref to every acquire of a `Lock`). */
  #plan(ref: R): Plan {
    let plan = this.#plans.get(ref);
    if (!plan) {
      plan = new Plan(this.#shapeOf(ref));
      this.#plans.set(ref, plan);
    }
    return plan;
  }

  /**
   * A put refused for "lease not found": the lease is gone (and nothing was written — the
   * transaction failed as a whole); the caller retries once on a fresh lease.
   */
  #leaseVanished(attempt: Attempt, error: unknown): boolean {
    if (!isLeaseNotFound(error)) return false;
    attempt.seat.session.markLost('a put on it was refused (lease not found)', error);
    leaveSeat(attempt.seat);
    return true;
  }

  /** Leaves the queue: deletes our key now, or in the background if etcd cannot be reached. */
  async #withdraw(attempt: Attempt): Promise<void> {
    try {
      await remove(this.ctx.rpc, attempt.contender.key);
      leaveSeat(attempt.seat);
    } catch {
      deleteLater(this.ctx, attempt.contender.key, attempt.seat);
    }
  }
}

/** Locks: the queue whose oldest key holds, with native `concurrency.Mutex` queues and `inspect`. */
export class EtcdLocks extends EtcdQueues<LockRef> {
  constructor(ctx: GrantContext) {
    super(ctx, (lock) => {
      const layout = lockQueue(lock);
      return { layout, holdsBack: layout.queue };
    });
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePrefix(native);
  }

  /**
   * The holder and the number waiting: ONE linearizable read of the queue (keys, oldest first),
   * then ONE `LeaseTimeToLive` of the holder's lease for how long it has left.
   */
  async inspect(
    lock: LockRef,
  ): Promise<{ readonly holders: readonly HolderInfo[]; readonly waiting: number }> {
    const { rpc } = this.ctx;
    const { queue } = lockQueue(lock);
    try {
      const { kvs } = await rpc.range(
        {
          key: rpc.key(queue),
          range_end: rpc.prefixEnd(queue),
          sort_target: SortTarget.Create,
          sort_order: SortOrder.Ascend,
          keys_only: true,
        },
        'inspect',
      );
      const [first] = kvs;
      if (first === undefined) return { holders: [], waiting: 0 };
      const lease = await rpc.timeToLive(first.lease);
      const leftSeconds = Number(lease.TTL);
      const holder: HolderInfo = {
        fencingToken: BigInt(first.create_revision),
        ...(leftSeconds >= 0 ? { leftMs: leftSeconds * 1_000 } : {}),
      };
      return { holders: [holder], waiting: kvs.length - 1 };
    } catch (error) {
      throw unavailable('inspect', error);
    }
  }
}

function lostWhileQueued(why: string, cause: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    'etcd',
    `the lease of this waiter ended while it was queued (${why}), so the acquire failed instead of waiting on`,
    { cause },
  );
}

/**
 * A ref's queue shape, and the contender it named last. A lock acquired over and over from one
 * coordinator names the same key each time (same lease, slot 0): the same key string then costs
 * no new string, hash or bytes on the hot path.
 */
class Plan {
  readonly shape: QueueShape;
  /** Whether "nobody ahead" is exactly "granted at once" (not for a semaphore's "fewer than N"). */
  readonly lightTry: boolean;
  /** The last enqueue found others ahead: the next acquire goes straight to the full enqueue. */
  contended = false;
  #last: { readonly leaseHex: string; readonly slot: number; readonly contender: Contender } | undefined;

  constructor(shape: QueueShape) {
    this.shape = shape;
    this.lightTry = shape.permits === undefined;
  }

  attempt(seat: Seat): Attempt {
    const { idHex } = seat.session;
    const last = this.#last;
    if (last !== undefined && last.slot === seat.slot && last.leaseHex === idHex) {
      return { seat, plan: this, contender: last.contender };
    }
    const { layout, holdsBack, permits, value } = this.shape;
    const contender: Contender = {
      key: memberKeyHex(layout, idHex, seat.slot),
      queue: holdsBack,
      ...(permits !== undefined ? { permits } : {}),
      ...(value !== undefined ? { value } : {}),
    };
    this.#last = { leaseHex: idHex, slot: seat.slot, contender };
    return { seat, plan: this, contender };
  }
}
