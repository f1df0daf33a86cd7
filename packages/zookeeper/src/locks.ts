/**
 * `LockDriver` for ZooKeeper — the recipe of Curator's `LockInternals`: join the queue with a
 * protected EPHEMERAL_SEQUENTIAL child, hold when first, otherwise watch only the child just
 * ahead (no herd) and look again when it goes. Core adds everything above it (validation,
 * timeouts, handles, renewal scheduling).
 *
 * Round trips: an uncontended acquire is 1 (see `contender.ts`), a release 1, a `tryAcquire`
 * that finds the lock taken 2 (the create, then the delete); a waiter spends one `getChildren`
 * after joining, then one `getData`+watch per predecessor and one `getChildren` per wake-up.
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  type AcquireRequest,
  jitter,
  type LeaseGrant,
  type LockDriver,
  type LockRef,
  type NativeLockLocation,
} from '@lockstep/core';
import { type Contender, enqueue, listQueue } from './contender.js';
import { Code, hasCode, unavailable } from './errors.js';
import { type GrantContext, ZkGrant } from './grant.js';
import { asUuid, child, type LockLayout, lockLayout, validateNativePath } from './paths.js';
import { positionOf } from './queue.js';
import type { QueueReaper } from './reaper.js';
import type { SessionSource } from './source.js';
import type { Sweeper } from './sweeper.js';

/** The fallback re-check of a waiter: a safety net under the watch, never the mechanism. */
export const WAIT_RECHECK = { initialMs: 1_000, maxMs: 8_000 } as const;

/** What the lock driver needs from its coordinator. */
export interface LockContext extends GrantContext {
  readonly source: SessionSource;
  /** The chroot every path starts with (`''` for none). */
  readonly base: string;
  readonly sweeper: Sweeper;
  readonly reaper: QueueReaper;
}

type Turn = 'held' | 'stopped' | 'gone';

/** Lock operations over one coordinator's session. */
export class ZkLocks implements LockDriver {
  readonly #ctx: LockContext;
  /** Core builds one LockRef per `coordinator.lock()`: its paths are derived once. */
  readonly #layouts = new WeakMap<LockRef, LockLayout>();
  readonly #onQueueCreated = (queue: string) => this.#ctx.reaper.created(queue);

  constructor(ctx: LockContext) {
    this.#ctx = ctx;
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePath(native);
  }

  async tryAcquire(request: AcquireRequest): Promise<LeaseGrant | null> {
    const { source, reaper } = this.#ctx;
    const layout = this.#layout(request.lock);
    const session = source.current ?? (await source.ready());
    reaper.enter(layout);
    let contender: Contender;
    try {
      contender = await enqueue(session, layout, asUuid(request.ownerId), this.#onQueueCreated);
    } catch (error) {
      reaper.leave(layout);
      throw unavailable('try-acquire', error);
    }
    if (await this.#isFirst(contender)) return this.#grant(contender);
    await this.#withdraw(contender);
    return null;
  }

  async acquire(request: AcquireRequest, signal: AbortSignal): Promise<LeaseGrant> {
    signal.throwIfAborted();
    const { source, reaper } = this.#ctx;
    const layout = this.#layout(request.lock);
    for (let attempt = 0; ; attempt++) {
      const session = source.current ?? (await source.ready(signal));
      reaper.enter(layout);
      let contender: Contender;
      try {
        // The first create is named after the acquire's owner id; a re-queue gets a fresh id.
        contender = await enqueue(
          session,
          layout,
          attempt === 0 ? asUuid(request.ownerId) : randomUUID(),
          this.#onQueueCreated,
        );
      } catch (error) {
        reaper.leave(layout);
        if (signal.aborted) throw signal.reason;
        if (!session.live) continue; // the session died under the create: queue on the next one
        throw unavailable('enqueue', error);
      }
      // Uncontended: first in the queue already (no waiting machinery).
      if (
        contender.orphans.length === 0 &&
        !signal.aborted &&
        contender.children !== undefined &&
        positionOf(contender.children, contender.name).kind === 'holder'
      ) {
        return this.#grant(contender);
      }
      let turn: Turn;
      try {
        turn = await this.#waitTurn(contender, signal);
      } catch (error) {
        await this.#withdraw(contender);
        if (signal.aborted) throw signal.reason;
        throw unavailable('wait', error);
      }
      // A grant that raced the abort is given back: the caller has gone.
      if (turn === 'held' && !signal.aborted) return this.#grant(contender);
      await this.#withdraw(contender);
      if (signal.aborted) throw signal.reason;
      // Our session was lost or our node deleted while we waited: a waiter never held the
      // lock, so it may queue again (at the back: its old place went with its node).
    }
  }

  #layout(lock: LockRef): LockLayout {
    let layout = this.#layouts.get(lock);
    if (!layout) {
      layout = lockLayout(this.#ctx.base, lock);
      this.#layouts.set(lock, layout);
    }
    return layout;
  }

  /**
   * Waits until our child is first. Returns `stopped` when the signal aborts or the session
   * is lost, `gone` when our child disappeared.
   */
  async #waitTurn(contender: Contender, signal: AbortSignal): Promise<Turn> {
    const { session, layout } = contender;
    let children = contender.children;
    let fallbackMs: number = WAIT_RECHECK.initialMs;
    for (;;) {
      if (signal.aborted || !session.live) return 'stopped';
      if (children === undefined) {
        const listed = await listQueue(session, layout.queue, signal).catch((error: unknown) => {
          if (signal.aborted || !session.live) return undefined;
          throw error;
        });
        if (!listed) return 'stopped';
        children = listed;
      }
      children = await this.#withoutStrays(contender, children);
      const position = positionOf(children, contender.name);
      if (position.kind === 'holder') return 'held';
      if (position.kind === 'gone') return 'gone';
      const woke = await watchAndWait(
        contender,
        child(layout.queue, position.predecessor),
        fallbackMs,
        signal,
      );
      fallbackMs = woke === 'timer' ? Math.min(fallbackMs * 2, WAIT_RECHECK.maxMs) : WAIT_RECHECK.initialMs;
      children = undefined; // look at the queue again
    }
  }

  /**
   * Whether a fresh contender is first in its queue, for `tryAcquire`. When the create's reply
   * counted others in the queue they were all there before us — unless they are our own strays
   * from creates whose replies were lost, which only a listing can tell apart.
   */
  async #isFirst(contender: Contender): Promise<boolean> {
    let { children } = contender;
    if (children === undefined) {
      if (contender.orphans.length === 0) return false;
      children = await listQueue(contender.session, contender.layout.queue).catch(() => undefined);
      if (children === undefined) return false;
    }
    const listed = children;
    const rest = await this.#withoutStrays(contender, listed).catch(() => listed);
    return positionOf(rest, contender.name).kind === 'holder';
  }

  /** Deletes children left by our own earlier creates whose replies were lost; returns the rest. */
  async #withoutStrays(contender: Contender, children: readonly string[]): Promise<readonly string[]> {
    if (contender.orphans.length === 0) return children;
    const strays = children.filter((name) => contender.orphans.some((prefix) => name.startsWith(prefix)));
    for (const name of strays) {
      await contender.session.remove(child(contender.layout.queue, name)).catch(() => {});
    }
    return children.filter((name) => !strays.includes(name));
  }

  #grant(contender: Contender): ZkGrant {
    this.#watchOrphans(contender);
    return new ZkGrant(this.#ctx, contender);
  }

  /** Leaves the queue: deletes our child now, or later if ZooKeeper cannot be reached now. */
  async #withdraw(contender: Contender): Promise<void> {
    const { session, path, layout } = contender;
    const { sweeper, reaper } = this.#ctx;
    try {
      await session.remove(path);
    } catch (error) {
      if (!hasCode(error, Code.NO_NODE)) sweeper.deleteLater(session, path);
    } finally {
      this.#watchOrphans(contender);
      reaper.leave(layout);
    }
  }

  /** Creates whose replies were lost may still land: the sweeper deletes them when they do. */
  #watchOrphans({ session, layout, orphans }: Contender): void {
    for (const prefix of orphans) this.#ctx.sweeper.watchForLateCreate(session, layout.queue, prefix);
  }
}

/**
 * Sets a watch on the predecessor (`getData`, as Curator does, so no watch is left behind on
 * a node that does not exist) and waits for what comes first: its event, the fallback timer,
 * the caller's abort, or the session's loss. Resolves at once when it is already gone.
 */
function watchAndWait(
  contender: Contender,
  predecessor: string,
  fallbackMs: number,
  signal: AbortSignal,
): Promise<'event' | 'gone' | 'timer' | 'stopped'> {
  const { session } = contender;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (what: 'event' | 'gone' | 'timer' | 'stopped') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onStop);
      session.lost.removeEventListener('abort', onStop);
      resolve(what);
    };
    const onStop = () => finish('stopped');
    const timer = setTimeout(() => finish('timer'), jitter(fallbackMs));
    timer.unref();
    signal.addEventListener('abort', onStop, { once: true });
    session.lost.addEventListener('abort', onStop, { once: true });
    if (signal.aborted || session.lost.aborted) return finish('stopped');
    session
      .getData(predecessor, () => finish('event'))
      .then(
        () => {},
        (error: unknown) => {
          // NO_NODE: it went before we could watch it. Anything else: look at the queue again.
          finish(hasCode(error, Code.NO_NODE) ? 'gone' : 'timer');
        },
      );
  });
}
