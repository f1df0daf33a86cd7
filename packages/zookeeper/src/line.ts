/**
 * Waiting in line — the recipe of Curator's `LockInternals`, for every queue of this adapter (a
 * lock, a read-write lock, an election, a semaphore's turnstile): join the queue with a protected
 * EPHEMERAL_SEQUENTIAL child, hold when the queue's rule says nobody ahead keeps us out,
 * otherwise watch only the child that does (the one just ahead for a lock; the nearest writer
 * for a reader: no herd) and look again when it goes, in core's `waitInQueue` loop.
 *
 * Round trips: an uncontended join is 1 (see `contender.ts`), leaving 1, a `tryJoin` that finds
 * the queue taken 2 (the create, then the delete); a waiter spends one `getChildren` after
 * joining, then one `getData`+watch per predecessor and one `getChildren` per wake-up.
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  jitter,
  type QueuePosition,
  type QueueStep,
  type QueueStrategy,
  waitInQueue,
} from '@lockstep/core/driver';
import { type Contender, enqueue, type LineShape, listQueue } from './contender.js';
import { Code, hasCode, unavailable } from './errors.js';
import type { Leftovers } from './leftovers.js';
import { asUuid, child } from './paths.js';
import { type Position, positionOf, type QueueRule, sortingKey } from './queue.js';
import type { ZkSession } from './session.js';
import type { SessionSource } from './source.js';

/** The fallback re-check of a waiter: a safety net under the watch, never the mechanism. */
export const WAIT_RECHECK = { initialMs: 1_000, maxMs: 8_000 } as const;

/** What a line needs from its coordinator. */
export interface LineContext {
  readonly source: SessionSource;
  readonly leftovers: Leftovers;
}

/** A waiter left the queue without its turn (its node or its session is gone): it queues again. */
export class QueueLeft extends Error {}

/** What a waiter waits for: the position that kept it waiting. */
type Waiting = Extract<Position, { kind: 'waiting' }>;

/** A waiter's half of `waitInQueue`, with its first position and the listing it saw last. */
interface Waiter extends QueueStrategy<Waiting> {
  first(signal: AbortSignal): Promise<QueuePosition<Waiting>>;
  readonly listed: readonly string[];
}

/** Whether a contender of `rule` may hold with others ahead of it in the queue. */
function holdsBehindOthers(rule: QueueRule<never>): boolean {
  return rule.blockedBy !== undefined || rule.judge !== undefined;
}

/** Whether anyone in `listed` is behind `ours`. */
function hasSuccessor(listed: readonly string[], ours: string, markers: readonly string[]): boolean {
  const key = sortingKey(ours, markers);
  return listed.some((name) => name !== ours && sortingKey(name, markers) > key);
}

/** Joining, waiting in and leaving the queues of one coordinator. */
export class ZkLine {
  readonly #ctx: LineContext;
  readonly #onCreated = (node: string) => this.#ctx.leftovers.created(node);

  constructor(ctx: LineContext) {
    this.#ctx = ctx;
  }

  /**
   * One attempt that never waits: `hold(our child)` once nobody ahead keeps us out, or `null`
   * (and no child) when someone does.
   * @param ownerId the attempt's owner id (32 hex digits): our child's protected name.
   */
  async tryJoin<T>(shape: LineShape, ownerId: string, hold: (contender: Contender) => T): Promise<T | null> {
    const session = this.#ctx.source.current ?? (await this.#ctx.source.ready());
    const contender = await this.#join(session, shape, asUuid(ownerId)).catch((error) => {
      throw unavailable('try-acquire', error);
    });
    // The create's reply counted the queue: others in it were there first — unless they are our
    // own strays from creates whose replies were lost, which only a listing tells apart, or the
    // rule lets us hold behind some of them (a reader behind readers, a lease within the count).
    const seen =
      contender.children !== undefined || contender.orphans.length > 0 || holdsBehindOthers(shape.rule)
        ? await this.position(contender, contender.children).catch(() => undefined)
        : undefined;
    if (seen?.position.kind === 'granted') return hold(this.holding(contender, seen.listed));
    await this.withdraw(contender);
    return null;
  }

  /**
   * Waits in the queue until nobody ahead keeps us out, then resolves `hold(our child)`. When
   * `signal` aborts, our child is deleted before this rejects with `signal.reason`. A waiter
   * whose session is lost (or whose node is deleted) never held anything: it queues again, at
   * the back, on the next session.
   */
  async join<T>(
    shape: LineShape,
    ownerId: string,
    signal: AbortSignal,
    hold: (contender: Contender) => T,
  ): Promise<T> {
    signal.throwIfAborted();
    for (let attempt = 0; ; attempt++) {
      const session = this.#ctx.source.current ?? (await this.#ctx.source.ready(signal));
      let contender: Contender;
      try {
        // The first create is named after the acquire's owner id; a re-queue gets a fresh id.
        contender = await this.#join(session, shape, attempt === 0 ? asUuid(ownerId) : randomUUID());
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!session.live) continue; // the session died under the create: queue on the next one
        throw unavailable('enqueue', error);
      }
      // Uncontended: alone in the queue (no waiting machinery).
      const { children, orphans, name } = contender;
      if (orphans.length === 0 && children?.length === 1 && children[0] === name && !signal.aborted) {
        return hold(this.holding(contender));
      }
      try {
        const listed = await this.waitTurn(contender, signal);
        // A turn that raced the abort is given back below: the caller has gone.
        if (!signal.aborted) return hold(this.holding(contender, listed));
      } catch (error) {
        await this.withdraw(contender);
        if (signal.aborted) throw signal.reason;
        if (session.live && !(error instanceof QueueLeft)) throw unavailable('wait', error);
        continue;
      }
      await this.withdraw(contender);
      throw signal.reason;
    }
  }

  /**
   * Waits, with our child already in the queue, until nobody ahead keeps it out; resolves the
   * listing that said so. Rejects with {@link QueueLeft} when our child or its session is gone,
   * with `signal.reason` when it aborts; leaving the queue is the caller's.
   */
  async waitTurn(contender: Contender, signal: AbortSignal): Promise<readonly string[]> {
    const waiter = this.#waiter(contender);
    await waitInQueue(waiter, await waiter.first(signal), signal, WAIT_RECHECK, (why) => new QueueLeft(why));
    return waiter.listed;
  }

  /**
   * Where our child stands, listed once (`children` when given) and judged.
   * @param watcher set on the queue's children by the listing.
   */
  async position(
    contender: Contender,
    children?: readonly string[],
    signal?: AbortSignal,
    watcher?: () => void,
  ): Promise<{ readonly position: QueuePosition<Waiting>; readonly listed: readonly string[] }> {
    const { session, layout, shape, name } = contender;
    const listed = await withoutStrays(
      contender,
      children ?? (await listQueue(session, layout.queue, signal, watcher)),
    );
    const position = shape.rule.judge
      ? await shape.rule.judge(listed, contender)
      : positionOf(listed, name, shape.rule);
    if (position.kind === 'holder') return { position: { kind: 'granted' }, listed };
    if (position.kind === 'gone')
      return { position: { kind: 'gone', why: `our node ${contender.path} is gone` }, listed };
    return { position: { kind: 'waiting', wait: position }, listed };
  }

  /** Leaves the queue: deletes our child now, or later if ZooKeeper cannot be reached now. */
  async withdraw(contender: Contender): Promise<void> {
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

  /**
   * Puts our child in the queue of `shape` without waiting (a user of its queue node until it
   * leaves): a semaphore's lease.
   */
  enter(session: ZkSession, shape: LineShape, ownerId: string): Promise<Contender> {
    return this.#join(session, shape, asUuid(ownerId));
  }

  /** Joins the queue of `shape` (a user of its queue node until it leaves). */
  #join(session: ZkSession, shape: LineShape, protectedId: string): Promise<Contender> {
    const { leftovers } = this.#ctx;
    leftovers.enter(shape.layout);
    return enqueue(session, shape, protectedId, this.#onCreated).catch((error: unknown) => {
      leftovers.leave(shape.layout);
      throw error;
    });
  }

  /**
   * A waiter's half of `waitInQueue`. Watching a predecessor: `getData` with a watch, as Curator
   * does, so no watch is left on a node that does not exist (and, for a rule that passes turns
   * on, a version above 0 says it holds already). Watching the queue: the listing that judges
   * the position sets the watch. Either wakes on its event, the fallback timer, the caller's
   * abort or the session's loss, then looks at the queue again. One watcher function per
   * waiter: the client keeps a function once per path, however often it is set.
   */
  #waiter(contender: Contender): Waiter {
    const { session, layout, shape } = contender;
    const alarm = new Alarm(session);
    /** The last listing, and whether it set the watch on the queue's children. */
    let listed: readonly string[] = contender.children ?? [];
    let watchingChildren = false;
    const look = async (children: boolean, signal?: AbortSignal, given?: readonly string[]) => {
      const seen = await this.position(contender, given, signal, children ? alarm.watcher : undefined);
      listed = seen.listed;
      watchingChildren = children && seen.position.kind === 'waiting' && seen.position.wait.children === true;
      return seen.position;
    };
    const armPredecessor = (predecessor: string) =>
      // NO_NODE: it went before we could watch it. Anything else: look at the queue again.
      session.getData(child(layout.queue, predecessor), alarm.watcher).then(
        ({ stat }) => (shape.rule.passOn && stat.version > 0 ? false : undefined),
        (e: unknown) => hasCode(e, Code.NO_NODE),
      );
    const next = async (
      wait: Waiting,
      fallbackMs: number,
      stop: AbortSignal,
    ): Promise<QueueStep<Waiting>> => {
      const waiting: QueueStep<Waiting> = { next: { kind: 'waiting', wait }, woke: false };
      if (wait.children && !watchingChildren) {
        // Set the watch with a listing; if that already changes things, no waiting at all.
        const now = await look(true, stop);
        if (!watchingChildren || stop.aborted) return { next: now, woke: true };
      }
      const woke = await alarm.wait(
        fallbackMs,
        stop,
        wait.children ? undefined : () => armPredecessor(wait.predecessor),
      );
      watchingChildren = false;
      if (stop.aborted || !session.live) return { ...waiting, woke };
      return { next: await look(wait.children === true, stop), woke };
    };
    const first = (signal: AbortSignal) => look(false, signal, contender.children);
    return {
      next,
      first,
      lost: session.trust.lost,
      get listed() {
        return listed;
      },
    };
  }

  /**
   * Our child holds its place: creates whose replies were lost are watched from now on, and
   * under a rule that passes turns on, the one behind it (in `listed`, the listing that let it
   * hold) is woken.
   */
  holding(contender: Contender, listed?: readonly string[]): Contender {
    this.#watchOrphans(contender);
    const { session, path, name, shape } = contender;
    if (shape.rule.passOn && listed && hasSuccessor(listed, name, shape.rule.markers)) {
      // Its fallback re-check covers a bump that fails.
      session.setData(path, shape.data ?? Buffer.alloc(0), 0).catch(() => {});
    }
    return contender;
  }

  /** Creates whose replies were lost may still land: they are deleted when they do. */
  #watchOrphans({ session, layout, orphans }: Contender): void {
    for (const prefix of orphans) this.#ctx.leftovers.watchForLateCreate(session, layout.queue, prefix);
  }
}

/**
 * `listed` without the children of our own earlier creates whose replies were lost: those are
 * deleted on sight.
 */
export async function withoutStrays(
  contender: Contender,
  listed: readonly string[],
): Promise<readonly string[]> {
  const { session, layout, orphans } = contender;
  if (orphans.length === 0) return listed;
  const strays = listed.filter((name) => orphans.some((prefix) => name.startsWith(prefix)));
  for (const name of strays) await session.remove(child(layout.queue, name)).catch(() => {});
  return listed.filter((name) => !strays.includes(name));
}

/**
 * One waiter's wake-ups on one session: a single watcher function for every watch it sets (the
 * client keeps a function once per path, so re-arming after a fallback never piles listeners
 * up), woken by a watch event, the fallback timer, the caller's abort or the session's loss.
 */
export class Alarm {
  readonly #session: ZkSession;
  #wake: ((woke: boolean) => void) | undefined;
  /**
   * An event that came while no wait was pending: the next wait ends at once. (A listing that
   * sets a watch and the event it then fires can arrive in one socket read, before the caller
   * has had a chance to wait.)
   */
  #rang = false;
  readonly #member = { sessionLost: () => this.#wake?.(false) };
  /** The watcher to pass to every watching read of this waiter. */
  readonly watcher = () => {
    if (this.#wake) this.#wake(true);
    else this.#rang = true;
  };

  constructor(session: ZkSession) {
    this.#session = session;
  }

  /**
   * Waits for the next event, at most about `fallbackMs`, or until `stop` aborts. `arm` sets the
   * watch (with {@link watcher}); it resolves `true` when what it watches is already gone (an
   * event in all but name), `false` to look again at once, `undefined` once the watch is set.
   * Without `arm`, the watch was set by the read before. Resolves whether a real change (not
   * the timer) ended the wait.
   */
  wait(fallbackMs: number, stop: AbortSignal, arm?: () => Promise<boolean | undefined>): Promise<boolean> {
    if (this.#rang) {
      this.#rang = false;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.#wake?.(false), jitter(fallbackMs)).unref();
      const onStop = () => this.#wake?.(false);
      this.#wake = (woke) => {
        this.#wake = undefined;
        clearTimeout(timer);
        stop.removeEventListener('abort', onStop);
        this.#session.trust.leave(this.#member);
        resolve(woke);
      };
      stop.addEventListener('abort', onStop, { once: true });
      this.#session.trust.join(this.#member);
      if (stop.aborted || !this.#session.live) return this.#wake(false);
      arm?.().then(
        (gone) => gone !== undefined && this.#wake?.(gone),
        () => this.#wake?.(false),
      );
    });
  }
}
