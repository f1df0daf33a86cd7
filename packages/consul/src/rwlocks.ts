/**
 * Consul read-write locks: a queue of contenders under `<prefix>/rwlock/<name>/`, one key per
 * session, judged by the rule of the rw-view module (a writer holds when first, a reader when no
 * writer is ahead). Contenders are acquired with their session, so a crashed holder's contender
 * goes when Consul invalidates its session (Behavior `delete`).
 *
 * Round trips:
 * - join, ONE request: `[delete C, lock C, get-tree prefix]` creates our contender C anew (its
 *   CreateIndex is our place; deleting first drops a leftover of this session's earlier grant whose
 *   release had not been answered) and lists the queue as of that write. Uncontended, that listing
 *   grants at once: an acquire is one request, a release one more.
 * - a waiter follows the prefix with its blocking query (one per prefix and coordinator) and holds
 *   as soon as an answer shows the contenders it waited for gone: no request of its own.
 * - release and leaving: `[check-session C, check-index C, delete C]`, as a lock's release.
 *
 * The fencing token of a grant is its contender's CreateIndex. A grant requested after another
 * was granted queues with a later write, so its token is larger.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import {
  type AcquireRequest,
  type LockDriver,
  type QueuePosition,
  type ReadWriteRef,
  waitInQueue,
} from '@lockstep/core/driver';
import { ConsulGrant, type GrantScope, releaseOps, retryInBackground } from './grant.js';
import type { KvEntry } from './json.js';
import { contenderKey, readWritePrefix } from './keys.js';
import { type KvTree, type TxnOp, transaction } from './kv.js';
import { rwContenderValue, rwQueue, rwStanding } from './rw-view.js';
import { assertSessionTtl, type ConsulSession } from './session.js';
import type { SessionSlots } from './session-slots.js';
import { PrefixQueue, QueueLeft, type TreeFeeds, type TreeFollower } from './tree-feed.js';

/** An `acquire` whose session or contender is lost while it queues joins again this many times. */
const MAX_REJOINS = 3;

/** Our contender in the queue: the entry our join wrote, and the queue as that write left it. */
interface Joined {
  readonly own: KvEntry;
  readonly tree: KvTree;
  readonly sentAt: number;
}

/** The read-write half of the Consul driver. */
export class ConsulReadWriteLocks implements LockDriver<ReadWriteRef> {
  readonly #scope: GrantScope;
  readonly #slots: SessionSlots;
  readonly #feeds: TreeFeeds;

  constructor(scope: GrantScope, slots: SessionSlots, feeds: TreeFeeds) {
    this.#scope = scope;
    this.#slots = slots;
    this.#feeds = feeds;
  }

  /** Joins, holds if the listing of the join says so, and otherwise leaves at once. */
  async tryAcquire(request: AcquireRequest<ReadWriteRef>): Promise<ConsulGrant | null> {
    return (await this.#contend(request, undefined)) ?? null;
  }

  acquire(request: AcquireRequest<ReadWriteRef>, signal: AbortSignal): Promise<ConsulGrant> {
    return this.#contend(request, signal) as Promise<ConsulGrant>;
  }

  /** Joins the queue and waits in it (`signal`), or judges the join's listing once (`undefined`). */
  async #contend(
    { lock, ttlMs, ownerId }: AcquireRequest<ReadWriteRef>,
    signal: AbortSignal | undefined,
  ): Promise<ConsulGrant | undefined> {
    assertSessionTtl(ttlMs);
    const prefix = readWritePrefix(lock);
    const claimKey = `${prefix}/`;
    const value = rwContenderValue(lock.mode, ownerId);
    for (let round = 0; ; round++) {
      signal?.throwIfAborted();
      // One contender per session per lock: several grants of one coordinator take several sessions.
      const { session, claim } = await this.#slots.claim(ttlMs, claimKey);
      let joined: Joined | undefined;
      let grant: ConsulGrant | undefined;
      try {
        joined = await this.#join(prefix, session, value);
        if (joined) {
          const asker = { session: session.id, createIndex: joined.own.createIndex };
          let standing = rwStanding(rwQueue(prefix, joined.tree.entries), asker);
          let grantedAt = joined.sentAt;
          if (standing === 'waits' && !signal) return undefined;
          if (standing === 'waits' && signal) {
            standing = await this.#wait(prefix, joined, asker, session, signal);
            grantedAt = performance.now();
          }
          if (standing === 'holds' && session.live && performance.now() < session.certainUntil) {
            const { own } = joined;
            grant = new ConsulGrant(this.#scope, {
              session,
              key: own.key,
              claim,
              claimKey,
              token: own.createIndex,
              keyIndex: own.modifyIndex,
              native: false,
              validUntil: grantedAt + ttlMs,
            });
            return grant;
          }
        }
      } finally {
        if (!grant) {
          if (joined) await this.#leave(session, joined.own);
          session.unclaim(claimKey, claim);
        }
      }
      if (round + 1 >= (signal ? MAX_REJOINS : 2)) {
        if (!signal) return undefined;
        const why = `acquiring a read-write lock: lost its place in the queue ${MAX_REJOINS} times`;
        throw new BackendUnavailableError('consul', why);
      }
    }
  }

  /** One request (see the module comment); `undefined` when our session is gone (it is replaced). */
  async #join(prefix: string, session: ConsulSession, value: string): Promise<Joined | undefined> {
    const key = contenderKey(prefix, session.id);
    const ops: TxnOp[] = [
      { verb: 'delete', key },
      { verb: 'lock', key, value, session: session.id },
      { verb: 'get-tree', key: `${prefix}/` },
    ];
    const sentAt = performance.now();
    const outcome = await transaction(this.#scope.http, ops, 'queueing for a read-write lock');
    if (!outcome.committed) {
      if (await session.existsOnServer()) {
        const why = `queueing for a read-write lock: Consul refused to lock ${key}`;
        throw new BackendUnavailableError('consul', why);
      }
      session.markLost('Consul no longer knows it (queueing for a read-write lock with it was refused)');
      return undefined;
    }
    const [own, ...entries] = outcome.entries;
    if (own?.key !== key || own.session !== session.id || own.createIndex !== own.modifyIndex) {
      const why = 'queueing for a read-write lock: the transaction committed without creating our contender';
      throw new BackendUnavailableError('consul', why);
    }
    return { own, tree: { entries, index: own.modifyIndex }, sentAt };
  }

  /** Waits on the prefix's listings until one says we hold (`holds`) or our contender is gone. */
  async #wait(
    prefix: string,
    joined: Joined,
    asker: { readonly session: string; readonly createIndex: bigint },
    session: ConsulSession,
    signal: AbortSignal,
  ): Promise<'holds' | 'gone'> {
    // Followed from the first wait on, from the join's own listing (not read again).
    let follower: TreeFollower | undefined;
    const follow = () => {
      follower ??= this.#feeds.follow(prefix, queue.latest ?? joined.tree);
      return follower;
    };
    const judge = (tree: KvTree): QueuePosition<bigint> => {
      const standing = rwStanding(rwQueue(prefix, tree.entries), asker);
      if (standing === 'gone') return { kind: 'gone', why: 'its contender is gone' };
      return standing === 'holds' ? { kind: 'granted' } : { kind: 'waiting', wait: tree.index };
    };
    const queue = new PrefixQueue(this.#scope.http, prefix, session.lost, follow, judge);
    const left = (why: string, cause: unknown) => new QueueLeft(why, { cause });
    try {
      await waitInQueue(queue, queue.position(joined.tree), signal, undefined, left);
      return 'holds';
    } catch (error) {
      if (error instanceof QueueLeft) return 'gone';
      throw error;
    } finally {
      follower?.close();
    }
  }

  /** Deletes our contender, guarded by its index (in the background when the request fails). */
  async #leave(session: ConsulSession, own: KvEntry): Promise<void> {
    const ops = releaseOps(own.key, session.id, own.modifyIndex);
    const doing = 'leaving a read-write lock';
    await transaction(this.#scope.http, ops, doing).catch(() =>
      retryInBackground(this.#scope, session, ops, doing),
    );
  }
}
