/**
 * Consul semaphores, laid out as hashicorp/consul `api/semaphore.go` lays them out (the rules are
 * in the semaphore-view module): contenders `<prefix>/<session>` acquired with their session, and
 * `<prefix>/.lock` holding `{ Limit, Holders }`, changed only by a CAS on its ModifyIndex.
 *
 * A permit's fencing token is the ModifyIndex of the write that granted it — the admitting CAS, the
 * holder's handover, or the admitted contender's own confirmation. Each is a write at a new Raft
 * index that grants exactly one permit, so tokens are distinct and strictly increase across the
 * permits of a name.
 *
 * `tryAcquire`, two requests: list the prefix, then — if a permit is free and nobody queues for it
 * — `[lock contender, cas .lock, get .lock]`, which either admits us or writes nothing.
 *
 * `acquire` queues: `[lock contender, get-tree prefix]` puts our contender in the queue (its
 * CreateIndex is our place) and reads the whole semaphore as of that write, in one request. Then,
 * judged on that listing and on every answer of the prefix's blocking query (one per coordinator
 * and prefix), without further requests until something is to be done:
 * - a permit is free for us: `[check-index contender, lock contender, cas .lock, get .lock]`;
 * - another's CAS admitted us: `[check-index contender, lock contender, get contender]` confirms;
 * - a releasing holder handed us its permit: granted, no request at all;
 * - a lost CAS race: the change that beat us is on its way from the blocking query; wait for it.
 * An aborted or timed-out wait deletes its contender before it rejects.
 * @module
 */
import { BackendUnavailableError, InvalidArgumentError, type NativeLockLocation } from '@lockstep/core';
import {
  type AcquireRequest,
  type LockDriver,
  type QueuePosition,
  type SemaphoreRef,
  waitInQueue,
} from '@lockstep/core/driver';
import { type GrantScope, releaseOps, retryInBackground } from './grant.js';
import { contenderKey, normaliseNativePrefix, semaphoreLockKey, semaphorePrefix } from './keys.js';
import { type KvTree, readKey, readTree, type TxnOp, transaction } from './kv.js';
import { SEMAPHORE_FLAG_VALUE } from './native.js';
import { ConsulPermit, grantOps } from './permit.js';
import {
  type Asker,
  admission,
  contended,
  contenderNote,
  contenderValue,
  leftoverPrune,
  type SemaphoreView,
  semaphoreView,
} from './semaphore-view.js';
import { assertSessionTtl, type ConsulSession } from './session.js';
import type { SessionSlots } from './session-slots.js';
import { PrefixQueue, QueueLeft, type TreeFeeds, type TreeFollower } from './tree-feed.js';

/** A `tryAcquire` that loses this many CAS races in a row (each to a new admission) gives up. */
const MAX_TRY_RACES = 5;
/** An `acquire` whose session or contender is lost while it queues joins again this many times. */
const MAX_REJOINS = 3;
/**
 * Tokens are `index × RANKS + rank`: one write may grant several permits (ranked 0, 1, …), and a
 * later write's tokens must exceed all of an earlier one's. Hence also the largest count accepted.
 */
const RANKS = 1n << 20n;
const MAX_PERMITS = Number(RANKS);

/** One attempt at a permit of one semaphore. */
interface Attempt {
  readonly prefix: string;
  readonly lockKey: string;
  /** What a permit claims on its session: one permit (or wait) per session per semaphore. */
  readonly claimKey: string;
  readonly permits: number;
  readonly ownerId: string;
  readonly ttlMs: number;
}

/** A contender of ours on the server: its session, key and ModifyIndex (which guards its deletion). */
interface Contender {
  readonly session: ConsulSession;
  readonly claim: symbol;
  readonly key: string;
  readonly index: bigint;
}

/** A listing of the prefix, and the semaphore it shows. */
interface Listing {
  readonly tree: KvTree;
  readonly view: SemaphoreView;
}

/** What one judged step led to. */
type Step = ConsulPermit | 'full' | 'raced' | 'rejoin';

/** The semaphore half of the Consul driver. */
export class ConsulSemaphores implements LockDriver<SemaphoreRef> {
  readonly #scope: GrantScope;
  readonly #slots: SessionSlots;
  readonly #feeds: TreeFeeds;

  constructor(scope: GrantScope, slots: SessionSlots, feeds: TreeFeeds) {
    this.#scope = scope;
    this.#slots = slots;
    this.#feeds = feeds;
  }

  /** Queues, and takes a permit only if one is owed to us at once; otherwise leaves the queue. */
  async tryAcquire(request: AcquireRequest<SemaphoreRef>): Promise<ConsulPermit | null> {
    return (await this.#contend(attemptOf(request), undefined)) ?? null;
  }

  acquire(request: AcquireRequest<SemaphoreRef>, signal: AbortSignal): Promise<ConsulPermit> {
    return this.#contend(attemptOf(request), signal) as Promise<ConsulPermit>;
  }

  validateNative(native: NativeLockLocation): void {
    normaliseNativePrefix(native);
  }

  /** Joins the queue and waits in it (`signal`), or judges once (`undefined`: try). */
  async #contend(attempt: Attempt, signal: AbortSignal | undefined): Promise<ConsulPermit | undefined> {
    for (let round = 0; ; round++) {
      signal?.throwIfAborted();
      const { session, claim } = await this.#slots.claim(attempt.ttlMs, attempt.claimKey);
      let queued: Contender | undefined;
      let grant: ConsulPermit | undefined;
      try {
        const joined = await this.#join(attempt, session, claim);
        if (joined) {
          queued = joined.contender;
          const outcome = signal
            ? await this.#wait(attempt, joined.contender, joined.asker, joined.tree, signal)
            : await this.#try(attempt, joined.contender, joined.asker, joined.tree);
          if (outcome === 'full') return undefined;
          grant = outcome;
          if (grant) return grant;
        }
      } finally {
        if (!grant) {
          if (queued) await this.#leave(attempt, queued);
          session.unclaim(attempt.claimKey, claim);
        }
      }
      if (round + 1 >= (signal ? MAX_REJOINS : 2)) {
        if (!signal) return undefined;
        const why = `acquiring a permit: lost its place in the queue ${MAX_REJOINS} times`;
        throw new BackendUnavailableError('consul', why);
      }
    }
  }

  /**
   * One request: `[lock contender, get-tree prefix]`, which queues us and reads the semaphore as
   * of that write. `undefined` when our session is gone (it is then replaced).
   */
  async #join(
    attempt: Attempt,
    session: ConsulSession,
    claim: symbol,
  ): Promise<{ contender: Contender; asker: Asker; tree: KvTree } | undefined> {
    const key = contenderKey(attempt.prefix, session.id);
    const queued = contenderValue({ state: 'queued', ownerId: attempt.ownerId, permits: attempt.permits });
    const ops: TxnOp[] = [
      { verb: 'lock', key, value: queued, session: session.id, flags: SEMAPHORE_FLAG_VALUE },
      { verb: 'get-tree', key: `${attempt.prefix}/` },
    ];
    const outcome = await transaction(this.#scope.http, ops, 'queueing for a permit');
    if (!outcome.committed) {
      if (await session.existsOnServer()) {
        throw new BackendUnavailableError('consul', `queueing for a permit: Consul refused to lock ${key}`);
      }
      session.markLost('Consul no longer knows it (queueing for a permit with it was refused)');
      return undefined;
    }
    const [own, ...entries] = outcome.entries;
    if (own?.key !== key || own.session !== session.id) {
      const why = 'queueing for a permit: the transaction committed without our session';
      throw new BackendUnavailableError('consul', why);
    }
    const { createIndex, modifyIndex } = own;
    const contender = { session, claim, key, index: modifyIndex };
    const tree = await this.#pruneLeftover(attempt, contender, { entries, index: modifyIndex });
    return { contender, asker: { session: session.id, createIndex, modifyIndex }, tree };
  }

  /**
   * Takes our session out of `.lock` where it is only an earlier permit's leftover (see
   * `leftoverPrune`): `[check-index contender, cas .lock, get-tree prefix]`, read again and
   * retried when another write to `.lock` came first. Returns the listing to judge on.
   */
  async #pruneLeftover(attempt: Attempt, contender: Contender, joined: KvTree): Promise<KvTree> {
    const { http } = this.#scope;
    let tree = joined;
    for (let round = 0; round < MAX_TRY_RACES; round++) {
      const prune = leftoverPrune(
        semaphoreView(attempt.prefix, tree.index, tree.entries),
        contender.session.id,
      );
      if (!prune) return tree;
      const ops: TxnOp[] = [
        { verb: 'check-index', key: contender.key, index: contender.index },
        {
          verb: 'cas',
          key: attempt.lockKey,
          value: prune.value,
          index: prune.lockIndex,
          flags: SEMAPHORE_FLAG_VALUE,
        },
        { verb: 'get-tree', key: `${attempt.prefix}/` },
      ];
      const outcome = await transaction(http, ops, 'queueing for a permit');
      if (outcome.committed) {
        // The CAS answers first (its new index, no value), then the listing as of that write.
        const [written, ...entries] = outcome.entries;
        return { entries, index: written?.modifyIndex ?? tree.index };
      }
      tree = await readTree(http, attempt.prefix, 'reading a semaphore');
    }
    return tree;
  }

  /** `tryAcquire`: takes what the listing owes us, reading again after a lost race; never waits. */
  async #try(
    attempt: Attempt,
    contender: Contender,
    asker: Asker,
    joined: KvTree,
  ): Promise<ConsulPermit | 'full' | undefined> {
    let tree = joined;
    for (let race = 0; race < MAX_TRY_RACES; race++) {
      const step = await this.#step(attempt, contender, asker, tree, undefined);
      if (step === 'rejoin') return undefined;
      if (step !== 'raced') return step;
      tree = await readTree(this.#scope.http, attempt.prefix, 'reading a semaphore');
    }
    return 'full';
  }

  /** `acquire`: waits in the queue until a permit is ours; `undefined` to queue again. */
  async #wait(
    attempt: Attempt,
    contender: Contender,
    asker: Asker,
    joined: KvTree,
    signal: AbortSignal,
  ): Promise<ConsulPermit | undefined> {
    // Followed from the first wait on: an acquire that is granted at once sends no blocking query.
    let follower: TreeFollower | undefined;
    const follow = () => {
      follower ??= this.#feeds.follow(attempt.prefix, queue.latest ?? joined);
      return follower;
    };
    const judge = (tree: KvTree) => permitPosition(attempt, asker, tree);
    const queue = new PrefixQueue(this.#scope.http, attempt.prefix, contender.session.lost, follow, judge);
    const left = (why: string, cause: unknown) => new QueueLeft(why, { cause });
    let kept = false;
    try {
      let position = queue.position(joined);
      for (;;) {
        await waitInQueue(queue, position, signal, undefined, left);
        const step = await this.#step(attempt, contender, asker, queue.latest!, follower);
        if (step === 'rejoin') return undefined;
        if (step instanceof ConsulPermit) {
          kept = true;
          return step;
        }
        // Lost a race — to another admission, or to a holder handing us its permit (which rewrote
        // our contender): the prefix's blocking query is already answering with the change that
        // beat us, written before we were refused, so wait for it and judge again.
        position = { kind: 'waiting', wait: queue.latest!.index };
      }
    } catch (error) {
      if (error instanceof QueueLeft) return undefined;
      throw error;
    } finally {
      if (!kept) follower?.close();
    }
  }

  /**
   * Judges `tree` and does what it says: a permit granted by another's write (no request), a
   * permit taken by our own granting write, or why not. A permit keeps `follower` (or opens one)
   * when others contend, to hand itself over on release.
   */
  async #step(
    attempt: Attempt,
    contender: Contender,
    asker: Asker,
    tree: KvTree,
    follower: TreeFollower | undefined,
  ): Promise<Step> {
    const view = semaphoreView(attempt.prefix, tree.index, tree.entries);
    const judged = admission(view, asker, attempt.permits);
    if (judged.kind === 'gone') return 'rejoin';
    if (judged.kind === 'full') return 'full';
    const listing = { view, tree };
    if (judged.kind === 'granted') {
      const taken = { index: judged.index, rank: judged.rank, alone: false, sentAt: performance.now() };
      return this.#permit(attempt, contender, listing, taken, follower) ?? 'rejoin';
    }
    const { session, key, index } = contender;
    const holding = contenderValue({
      state: 'holding',
      ownerId: attempt.ownerId,
      permits: attempt.permits,
      rank: 0,
    });
    const ops: TxnOp[] = [
      { verb: 'check-index', key, index },
      { verb: 'lock', key, value: holding, session: session.id, flags: SEMAPHORE_FLAG_VALUE },
      ...grantOps(attempt.lockKey, judged),
      { verb: 'get', key },
    ];
    const sentAt = performance.now();
    const outcome = await transaction(this.#scope.http, ops, 'acquiring a permit');
    if (outcome.committed) {
      const written = outcome.entries.findLast((entry) => entry.key === key)?.modifyIndex;
      if (written === undefined) {
        throw new BackendUnavailableError('consul', `acquiring a permit: the transaction returned no ${key}`);
      }
      const taken = { index: written, rank: 0, alone: judged.alone, sentAt };
      return this.#permit(attempt, contender, listing, taken, follower) ?? 'rejoin';
    }
    const failed = new Set(outcome.errors.map(({ opIndex }) => opIndex));
    if (failed.has(1) && !failed.has(0) && !(await session.existsOnServer())) {
      session.markLost('Consul no longer knows it (taking a permit with it was refused)');
      return 'rejoin';
    }
    return 'raced';
  }

  /**
   * The permit granted by the write at `taken.index`, or `undefined` when it came to a session we
   * have meanwhile given up on (nobody could release or trust it; the caller deletes the contender).
   */
  #permit(
    attempt: Attempt,
    contender: Contender,
    { view, tree }: Listing,
    taken: {
      readonly index: bigint;
      readonly rank: number;
      readonly alone: boolean;
      readonly sentAt: number;
    },
    follower: TreeFollower | undefined,
  ): ConsulPermit | undefined {
    const { session } = contender;
    if (!session.live || performance.now() >= session.certainUntil) return undefined;
    const keep = contended(view, session.id, attempt.permits);
    if (follower && !keep) follower.close();
    const following = keep ? (follower ?? this.#feeds.follow(attempt.prefix, tree)) : undefined;
    return new ConsulPermit(this.#scope, {
      session,
      key: contender.key,
      claim: contender.claim,
      claimKey: attempt.claimKey,
      token: taken.index * RANKS + BigInt(taken.rank),
      keyIndex: taken.index,
      grantIndex: taken.index,
      native: false,
      validUntil: taken.sentAt + attempt.ttlMs,
      prefix: attempt.prefix,
      lockKey: attempt.lockKey,
      permits: attempt.permits,
      alone: taken.alone,
      follower: following,
    });
  }

  /**
   * Deletes our contender, guarded by its index (in the background when the request fails). A
   * contender rewritten meanwhile by a write granting us a permit is deleted at its new index:
   * that gives the permit back.
   */
  async #leave(attempt: Attempt, contender: Contender): Promise<void> {
    const { http } = this.#scope;
    const { session, key } = contender;
    const doing = 'leaving a semaphore';
    let ops = releaseOps(key, session.id, contender.index);
    try {
      if ((await transaction(http, ops, doing)).committed) return;
      const now = await readKey(http, key, doing);
      if (now?.session !== session.id || contenderNote(now)?.ownerId !== attempt.ownerId) return;
      ops = releaseOps(key, session.id, now.modifyIndex);
      await transaction(http, ops, doing);
    } catch {
      retryInBackground(this.#scope, session, ops, doing);
    }
  }
}

/** Where a listing of the prefix puts `asker`: `granted` means there is something to do (take, or keep, a permit). */
function permitPosition(attempt: Attempt, asker: Asker, tree: KvTree): QueuePosition<bigint> {
  const view = semaphoreView(attempt.prefix, tree.index, tree.entries);
  const judged = admission(view, asker, attempt.permits);
  if (judged.kind === 'gone') return { kind: 'gone', why: 'its contender is gone' };
  if (judged.kind === 'full') return { kind: 'waiting', wait: tree.index };
  return { kind: 'granted' };
}

function attemptOf({ lock, ttlMs, ownerId }: AcquireRequest<SemaphoreRef>): Attempt {
  assertSessionTtl(ttlMs);
  if (lock.permits > MAX_PERMITS) {
    throw new InvalidArgumentError('permits', `Consul semaphores have at most ${MAX_PERMITS} permits`);
  }
  const prefix = semaphorePrefix(lock);
  const claimKey = `${prefix}/`;
  return { prefix, lockKey: semaphoreLockKey(prefix), claimKey, permits: lock.permits, ownerId, ttlMs };
}
