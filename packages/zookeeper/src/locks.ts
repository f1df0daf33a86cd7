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
import type { NativeLockLocation } from '@lockstep/core';
import type { AcquireRequest, LockDriver, LockRef, ReadWriteRef } from '@lockstep/core/driver';
import type { Contender, LineShape } from './contender.js';
import { type GrantContext, ZkGrant } from './grant.js';
import type { ZkLine } from './line.js';
import {
  LOCK_NAME,
  lockLayout,
  READ_NAME,
  readWriteLayout,
  validateNativePath,
  WRITE_NAME,
} from './paths.js';
import { MUTEX_RULE, READER_RULE, WRITER_RULE } from './queue.js';

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
