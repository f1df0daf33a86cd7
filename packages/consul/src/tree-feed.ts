/**
 * What waiters of a semaphore wait on: one blocking query per prefix per coordinator
 * (`GET <prefix>/?recurse&index=N`), which Consul answers when anything under the prefix changes —
 * a holder's contender deleted, its session invalidated, `.lock` rewritten, a waiter leaving. Every
 * answer is the whole prefix, so a woken waiter judges its place from it without another request,
 * and only a waiter that may be admitted sends anything.
 *
 * The loop runs while someone waits on the prefix (or holds a permit of it that it may hand to a
 * waiter), and starts blocking from the index the first follower already read, so the read it
 * joined with is not repeated.
 * @module
 */
import type { LossNotice, QueuePosition, QueueStep, QueueStrategy } from '@lockstep/core/driver';
import { follow } from './blocking.js';
import type { ConsulHttp } from './http.js';
import { kvPath } from './keys.js';
import { type KvTree, readTree, treeOf } from './kv.js';

/** One waiter's view of a followed prefix. */
export interface TreeFollower {
  /**
   * The newest listing, once one newer than `after` is known; `undefined` when `maxMs` passed, or
   * one of `stops` tripped, first.
   */
  next(after: bigint, maxMs: number, stops: readonly LossNotice[]): Promise<KvTree | undefined>;
  /** The newest listing the feed has. */
  latest(): KvTree | undefined;
  /** A listing read some other way (a re-check): waiters of the prefix may use it too. */
  offer(tree: KvTree): void;
  /** This waiter is done; the loop stops with the last one. */
  close(): void;
}

interface Feed {
  users: number;
  latest: KvTree | undefined;
  readonly loop: AbortController;
  readonly waiting: Set<{ readonly after: bigint; readonly wake: () => void }>;
}

/** The prefixes a coordinator's waiters follow. */
export class TreeFeeds {
  readonly #http: ConsulHttp;
  readonly #waitMs: number;
  readonly #feeds = new Map<string, Feed>();

  constructor(http: ConsulHttp, waitMs: number) {
    this.#http = http;
    this.#waitMs = waitMs;
  }

  /** Follows `prefix` for a waiter that has seen it at `seen`. */
  follow(prefix: string, seen: KvTree): TreeFollower {
    let feed = this.#feeds.get(prefix);
    if (!feed) {
      feed = { users: 0, latest: undefined, loop: new AbortController(), waiting: new Set() };
      this.#feeds.set(prefix, feed);
      this.#run(prefix, feed, seen.index);
    }
    const current = feed;
    current.users++;
    publish(current, seen);
    let closed = false;
    return {
      next: (after, maxMs, stops) => next(current, after, maxMs, stops),
      latest: () => current.latest,
      offer: (tree) => publish(current, tree),
      close: () => {
        if (closed) return;
        closed = true;
        if (--current.users > 0) return;
        current.loop.abort();
        if (this.#feeds.get(prefix) === current) this.#feeds.delete(prefix);
      },
    };
  }

  /** Stops every loop. */
  close(): void {
    for (const feed of this.#feeds.values()) feed.loop.abort();
    this.#feeds.clear();
  }

  #run(prefix: string, feed: Feed, startIndex: bigint): void {
    const doing = `watching ${prefix}/`;
    void follow(this.#http, {
      path: kvPath(`${prefix}/`),
      query: { recurse: '' },
      startIndex,
      waitMs: this.#waitMs,
      signal: feed.loop.signal,
      read: (reply) => {
        const tree = treeOf(this.#http, reply, doing);
        return { state: tree, signature: String(tree.index), tableIndexed: reply.status === 404 };
      },
      // The loop's own answers are kept even when the index went backwards (a restored server):
      // it has reset its index, and the waiters' newer views came from before the reset.
      onState: (tree) => publish(feed, tree, true),
    });
  }
}

/** Keeps `tree` when it is newer than what the feed has (or `always`), and wakes those it is news to. */
function publish(feed: Feed, tree: KvTree, always = false): void {
  if (!always && feed.latest && tree.index <= feed.latest.index) return;
  feed.latest = tree;
  for (const waiter of [...feed.waiting]) if (tree.index > waiter.after) waiter.wake();
}

function next(
  feed: Feed,
  after: bigint,
  maxMs: number,
  stops: readonly LossNotice[],
): Promise<KvTree | undefined> {
  if (feed.latest && feed.latest.index > after) return Promise.resolve(feed.latest);
  if (stops.some((stop) => stop.aborted)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const done = (tree: KvTree | undefined) => {
      clearTimeout(timer);
      feed.waiting.delete(waiter);
      for (const stop of stops) stop.removeEventListener('abort', stopped);
      resolve(tree);
    };
    const waiter = { after, wake: () => done(feed.latest) };
    const stopped = () => done(undefined);
    const timer = setTimeout(stopped, maxMs);
    for (const stop of stops) stop.addEventListener('abort', stopped, { once: true });
    feed.waiting.add(waiter);
  });
}

/** A queue wait ended without a grant: the contender or its session is gone. */
export class QueueLeft extends Error {}

/**
 * One contender's wait in the queue under a followed prefix (a semaphore's, a read-write lock's):
 * each listing is judged by `judge`, the feed's answers wake it, and a re-check reads the prefix
 * itself when the feed has been silent for the fallback delay.
 */
export class PrefixQueue implements QueueStrategy<bigint> {
  /** The last listing judged. */
  latest: KvTree | undefined;
  readonly lost: LossNotice;
  readonly #http: ConsulHttp;
  readonly #prefix: string;
  readonly #follow: () => TreeFollower;
  readonly #judge: (tree: KvTree) => QueuePosition<bigint>;

  /** `lost`: the contender's session; `follow`: the follower, opened at the first wait. */
  constructor(
    http: ConsulHttp,
    prefix: string,
    lost: LossNotice,
    follow: () => TreeFollower,
    judge: (tree: KvTree) => QueuePosition<bigint>,
  ) {
    this.#http = http;
    this.#prefix = prefix;
    this.lost = lost;
    this.#follow = follow;
    this.#judge = judge;
  }

  /** Where a listing puts the contender. */
  position(tree: KvTree): QueuePosition<bigint> {
    this.latest = tree;
    return this.#judge(tree);
  }

  async next(seen: bigint, fallbackMs: number, stop: AbortSignal): Promise<QueueStep<bigint>> {
    const unchanged: QueuePosition<bigint> = { kind: 'waiting', wait: seen };
    const follower = this.#follow();
    const tree = await follower.next(seen, fallbackMs, [stop, this.lost]);
    if (tree) return { next: this.position(tree), woke: true };
    if (stop.aborted || this.lost.aborted) return { next: unchanged, woke: false };
    // Nothing heard for a while: read it ourselves, in case a change slipped past the feed.
    let fresh: KvTree;
    try {
      fresh = await readTree(this.#http, this.#prefix, `reading ${this.#prefix}/`);
    } catch {
      return { next: unchanged, woke: false }; // unreachable for now: the next round asks again
    }
    follower.offer(fresh);
    return { next: this.position(fresh), woke: false };
  }
}
