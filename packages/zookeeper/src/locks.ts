/**
 * `LockDriver`s for ZooKeeper: locks in the layout of Curator's `InterProcessMutex`, and
 * read-write locks in the layout of its `InterProcessReadWriteLock` — both one wait in line
 * (`line.ts`) with a different rule for who may hold.
 *
 * A read-write lock is one queue of `__READ__` and `__WRIT__` children ordered by their
 * sequence: a writer holds when it is first, a reader when no writer is ahead of it. So a
 * waiting writer holds back every reader that comes after it (a stream of readers cannot starve
 * it), and readers that arrive together share.
 *
 * Round trips: an uncontended acquire is 1, a release 1, a refused `tryAcquire` 2; a reader
 * that finds others in the queue lists it (1 more) to see whether a writer is ahead. Holding
 * costs nothing per lock: the session keeps them all.
 * @module
 */
import type { HolderInfo, NativeLockLocation } from '@lockstep/core';
import type { AcquireRequest, LockDriver, LockRef, ReadWriteRef } from '@lockstep/core/driver';
import { type Contender, type LineShape, listQueue } from './contender.js';
import { Code, hasCode, unavailable } from './errors.js';
import { type GrantContext, ZkGrant } from './grant.js';
import type { ZkLine } from './line.js';
import {
  child,
  LOCK_NAME,
  lockLayout,
  PROTECTED_PREFIX,
  READ_NAME,
  readWriteLayout,
  validateNativePath,
  WRITE_NAME,
} from './paths.js';
import { MUTEX_RULE, queueOrder, READER_RULE, WRITER_RULE } from './queue.js';
import { zxid } from './raw.js';
import type { SessionSource } from './source.js';

/** The shape of a lock's contender under `base` (the chroot, `''` for none). */
export function lockShape(base: string, lock: LockRef): LineShape {
  return { layout: lockLayout(base, lock), rule: MUTEX_RULE, marker: LOCK_NAME };
}

/** The shape of a reader's or a writer's contender. */
export function readWriteShape(base: string, lock: ReadWriteRef): LineShape {
  const layout = readWriteLayout(base, lock);
  return lock.mode === 'read'
    ? { layout, rule: READER_RULE, marker: READ_NAME }
    : { layout, rule: WRITER_RULE, marker: WRITE_NAME };
}

/** What the lock drivers need from their coordinator. */
export interface LockContext extends GrantContext {
  readonly line: ZkLine;
  readonly source: SessionSource;
  /** The chroot every path starts with (`''` for none). */
  readonly base: string;
}

/** Lock operations over one coordinator's session, for locks (`lockShape`) or read-write locks. */
export class ZkLocks<R extends LockRef = LockRef> implements LockDriver<R> {
  readonly #ctx: LockContext;
  readonly #shapeOf: (base: string, ref: R) => LineShape;
  /** Core builds one ref per `coordinator.lock()` (and per side of a read-write lock): shapes are derived once. */
  readonly #shapes = new WeakMap<R, LineShape>();

  constructor(ctx: LockContext, shapeOf: (base: string, ref: R) => LineShape) {
    this.#ctx = ctx;
    this.#shapeOf = shapeOf;
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePath(native);
  }

  tryAcquire(request: AcquireRequest<R>): Promise<ZkGrant | null> {
    return this.#ctx.line.tryJoin(this.#shape(request.lock), request.ownerId, this.#granter(request));
  }

  acquire(request: AcquireRequest<R>, signal: AbortSignal): Promise<ZkGrant> {
    return this.#ctx.line.join(this.#shape(request.lock), request.ownerId, signal, this.#granter(request));
  }

  /**
   * Who holds and how many wait: one listing of the queue, then the holders' czxids (their
   * tokens). A holder's lease is its session's, which only the server's session tracker knows:
   * no `leftMs`. The owner is the id in the protected prefix of the child's name, absent for a
   * native contender that did not use one.
   */
  async inspect(ref: R): Promise<{ holders: HolderInfo[]; waiting: number }> {
    const shape = this.#shape(ref);
    try {
      const session = this.#ctx.source.current ?? (await this.#ctx.source.ready());
      const queue = queueOrder(await listQueue(session, shape.layout.queue), shape.rule.markers);
      const holding = holdersOf(queue, shape);
      const holders: HolderInfo[] = [];
      for (const name of holding) {
        const stat = await session.exists(child(shape.layout.queue, name));
        if (stat) holders.push({ fencingToken: zxid(stat.czxid), ...ownerOf(name) });
      }
      return { holders, waiting: queue.length - holding.length };
    } catch (error) {
      if (hasCode(error, Code.NO_NODE)) return { holders: [], waiting: 0 };
      throw unavailable('inspect', error);
    }
  }

  #granter(request: AcquireRequest<R>): (contender: Contender) => ZkGrant {
    return (contender) => new ZkGrant(this.#ctx, contender, request.ttlMs);
  }

  #shape(ref: R): LineShape {
    let shape = this.#shapes.get(ref);
    if (!shape) {
      shape = this.#shapeOf(this.#ctx.base, ref);
      this.#shapes.set(ref, shape);
    }
    return shape;
  }
}

/** The children that hold, in queue order: the first, and for readers every one before a writer. */
function holdersOf(queue: readonly string[], shape: LineShape): readonly string[] {
  const { blockedBy } = shape.rule;
  if (!blockedBy || queue.length === 0) return queue.slice(0, 1);
  const firstBlocker = queue.findIndex(blockedBy);
  return firstBlocker === 0
    ? queue.slice(0, 1)
    : queue.slice(0, firstBlocker < 0 ? queue.length : firstBlocker);
}

/** lockstep's owner id (32 hex digits) from a child's protected prefix, when it has one. */
function ownerOf(name: string): { owner?: string } {
  if (!name.startsWith(PROTECTED_PREFIX)) return {};
  const uuid = name.slice(PROTECTED_PREFIX.length, PROTECTED_PREFIX.length + 36);
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)
    ? { owner: uuid.replaceAll('-', '') }
    : {};
}
