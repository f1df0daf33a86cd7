/**
 * `LockDriver` for ZooKeeper — the recipe of Curator's `LockInternals`: join the queue with a
 * protected EPHEMERAL_SEQUENTIAL child, hold when first, otherwise watch only the child just
 * ahead (no herd) and look again when it goes, in core's `waitInQueue` loop.
 *
 * Round trips: an uncontended acquire is 1 (see `contender.ts`), a release 1, a `tryAcquire`
 * that finds the lock taken 2 (the create, then the delete); a waiter spends one `getChildren`
 * after joining, then one `getData`+watch per predecessor and one `getChildren` per wake-up.
 * Holding costs nothing per lock: the session keeps them all.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { NativeLockLocation } from '@lockstep/core';
import {
  type AcquireRequest,
  jitter,
  type LockDriver,
  type LockRef,
  type QueuePosition,
  type QueueStep,
  type QueueStrategy,
  waitInQueue,
} from '@lockstep/core/driver';
import { type Contender, enqueue, listQueue } from './contender.js';
import { Code, hasCode, unavailable } from './errors.js';
import { type GrantContext, ZkGrant } from './grant.js';
import { asUuid, child, type LockLayout, lockLayout, validateNativePath } from './paths.js';
import { positionOf } from './queue.js';
import type { ZkSession } from './session.js';
import type { SessionSource } from './source.js';

/** The fallback re-check of a waiter: a safety net under the watch, never the mechanism. */
const WAIT_RECHECK = { initialMs: 1_000, maxMs: 8_000 } as const;

/** What the lock driver needs from its coordinator. */
export interface LockContext extends GrantContext {
  readonly source: SessionSource;
  /** The chroot every path starts with (`''` for none). */
  readonly base: string;
}

/** A waiter left the queue without the lock (its node or its session is gone): it queues again. */
class QueueLeft extends Error {}

/** Lock operations over one coordinator's session. */
export class ZkLocks implements LockDriver {
  readonly #ctx: LockContext;
  /** Core builds one LockRef per `coordinator.lock()`: its paths are derived once. */
  readonly #layouts = new WeakMap<LockRef, LockLayout>();
  readonly #onQueueCreated = (queue: string) => this.#ctx.leftovers.created(queue);

  constructor(ctx: LockContext) {
    this.#ctx = ctx;
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePath(native);
  }

  async tryAcquire(request: AcquireRequest): Promise<ZkGrant | null> {
    const session = this.#ctx.source.current ?? (await this.#ctx.source.ready());
    const contender = await this.#join(session, request.lock, asUuid(request.ownerId)).catch((error) => {
      throw unavailable('try-acquire', error);
    });
    // The create's reply counted the queue: others in it were there first — unless they are our
    // own strays from creates whose replies were lost, which only a listing tells apart.
    const first =
      (contender.children !== undefined || contender.orphans.length > 0) &&
      (await this.#position(contender, contender.children).catch(() => undefined))?.kind === 'granted';
    if (first) return this.#grant(contender, request.ttlMs);
    await this.#withdraw(contender);
    return null;
  }

  async acquire(request: AcquireRequest, signal: AbortSignal): Promise<ZkGrant> {
    signal.throwIfAborted();
    for (let attempt = 0; ; attempt++) {
      const session = this.#ctx.source.current ?? (await this.#ctx.source.ready(signal));
      let contender: Contender;
      try {
        // The first create is named after the acquire's owner id; a re-queue gets a fresh id.
        contender = await this.#join(
          session,
          request.lock,
          attempt === 0 ? asUuid(request.ownerId) : randomUUID(),
        );
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!session.live) continue; // the session died under the create: queue on the next one
        throw unavailable('enqueue', error);
      }
      const { children, orphans, name } = contender;
      // Uncontended: first in the queue already (no waiting machinery).
      if (
        orphans.length === 0 &&
        children &&
        positionOf(children, name).kind === 'holder' &&
        !signal.aborted
      ) {
        return this.#grant(contender, request.ttlMs);
      }
      try {
        const first = await this.#position(contender, children, signal);
        await waitInQueue(this.#waiter(contender), first, signal, WAIT_RECHECK, (why) => new QueueLeft(why));
        // A grant that raced the abort is given back below: the caller has gone.
        if (!signal.aborted) return this.#grant(contender, request.ttlMs);
      } catch (error) {
        await this.#withdraw(contender);
        if (signal.aborted) throw signal.reason;
        if (session.live && !(error instanceof QueueLeft)) throw unavailable('wait', error);
        // Our session was lost or our node deleted while we waited: a waiter never held the
        // lock, so it queues again (at the back: its old place went with its node).
        continue;
      }
      await this.#withdraw(contender);
      throw signal.reason;
    }
  }

  /** Joins the queue of `lock` (a user of its queue node until it leaves). */
  #join(session: ZkSession, lock: LockRef, protectedId: string): Promise<Contender> {
    let layout = this.#layouts.get(lock);
    if (!layout) {
      layout = lockLayout(this.#ctx.base, lock);
      this.#layouts.set(lock, layout);
    }
    const { leftovers } = this.#ctx;
    leftovers.enter(layout);
    return enqueue(session, layout, protectedId, this.#onQueueCreated).catch((error: unknown) => {
      leftovers.leave(layout);
      throw error;
    });
  }

  /**
   * A waiter's half of `waitInQueue`: watch the predecessor (`getData`, as Curator does, so no
   * watch is left on a node that does not exist), wake on its event, the fallback timer, the
   * caller's abort or the session's loss, then look at the queue again. One watcher function
   * per waiter: the client keeps a function once per path, however often it is set.
   */
  #waiter(contender: Contender): QueueStrategy<string> {
    const { session, layout } = contender;
    let wake: ((woke: boolean) => void) | undefined;
    const watcher = () => wake?.(true);
    const member = { sessionLost: () => wake?.(false) };
    const next = async (predecessor: string, fallbackMs: number, stop: AbortSignal) => {
      const woke = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => wake?.(false), jitter(fallbackMs)).unref();
        const onStop = () => wake?.(false);
        wake = (woke) => {
          wake = undefined;
          clearTimeout(timer);
          stop.removeEventListener('abort', onStop);
          session.trust.leave(member);
          resolve(woke);
        };
        stop.addEventListener('abort', onStop, { once: true });
        session.trust.join(member);
        // NO_NODE: it went before we could watch it. Anything else: look at the queue again.
        session
          .getData(child(layout.queue, predecessor), watcher)
          .catch((e) => wake?.(hasCode(e, Code.NO_NODE)));
      });
      const step: QueueStep<string> = { next: { kind: 'waiting', wait: predecessor }, woke };
      return stop.aborted || !session.live
        ? step
        : { ...step, next: await this.#position(contender, undefined, stop) };
    };
    return { next, lost: session.trust.lost };
  }

  /** Where `contender` stands: the queue listed (unless `children` is that listing), minus our strays. */
  async #position(
    contender: Contender,
    children: readonly string[] | undefined,
    signal?: AbortSignal,
  ): Promise<QueuePosition<string>> {
    const { session, layout, orphans } = contender;
    let listed = children ?? (await listQueue(session, layout.queue, signal));
    if (orphans.length > 0) {
      // Children of our own earlier creates whose replies were lost: delete them on sight.
      const strays = listed.filter((name) => orphans.some((prefix) => name.startsWith(prefix)));
      for (const name of strays) await session.remove(child(layout.queue, name)).catch(() => {});
      listed = listed.filter((name) => !strays.includes(name));
    }
    const position = positionOf(listed, contender.name);
    if (position.kind === 'holder') return { kind: 'granted' };
    if (position.kind === 'gone') return { kind: 'gone', why: `our node ${contender.path} is gone` };
    return { kind: 'waiting', wait: position.predecessor };
  }

  #grant(contender: Contender, ttlMs: number): ZkGrant {
    this.#watchOrphans(contender);
    return new ZkGrant(this.#ctx, contender, ttlMs);
  }

  /** Leaves the queue: deletes our child now, or later if ZooKeeper cannot be reached now. */
  async #withdraw(contender: Contender): Promise<void> {
    const { session, path, layout } = contender;
    try {
      await session.remove(path);
    } catch (error) {
      if (!hasCode(error, Code.NO_NODE)) this.#ctx.leftovers.deleteLater(session, path);
    } finally {
      this.#watchOrphans(contender);
      this.#ctx.leftovers.leave(layout);
    }
  }

  /** Creates whose replies were lost may still land: they are deleted when they do. */
  #watchOrphans({ session, layout, orphans }: Contender): void {
    for (const prefix of orphans) this.#ctx.leftovers.watchForLateCreate(session, layout.queue, prefix);
  }
}
