/**
 * Semaphores on ZooKeeper: one EPHEMERAL_SEQUENTIAL lease per permit asked for, each storing
 * the permit count its client declared — in its data, in decimal, and in its name
 * (`_c_<uuid>-lease-of-<count>-<sequence>`, so a listing tells every count without a read).
 *
 * lockstep's own semaphore is one queue of leases, the line of `line.ts` with the permit rule
 * (`permitPosition`): in sequence order, the first leases hold while each is within the smallest
 * count declared by it and everyone ahead — so the holders never exceed the smallest count any
 * of them declared (mismatch rule `smallest`), and grants go first in, first out. The first
 * waiter watches the queue's children (any release admits it); each waiter behind it watches the
 * lease just ahead, which bumps its own version once it holds: one release wakes one client, and
 * a late watcher reads the bump from the version. An uncontended acquire is 1 round trip (the
 * create's reply says whether our lease is alone), one more to list the leases when it is not;
 * a release 1.
 *
 * A `native` semaphore is Curator's `InterProcessSemaphoreV2` layout: under its path a lock
 * (`locks`, the turnstile) guards the leases (`leases`). An acquirer takes its turn at the
 * turnstile (the lock recipe: first in, first out), then, alone, creates its lease and counts
 * the leases: it holds a permit once they are no more than its limit — the smallest count
 * declared by it and by every lease that declares one — and passes the turnstile on. While it
 * waits it watches the leases' children, and only it does. A lease named without a count (a
 * Curator client's) is read once for its data; Curator writes the client's address there unless
 * its user calls `setNodeData`, which is no count. Curator's clients themselves count only
 * against their own `maxLeases`. An uncontended native acquire is 2 round trips plus `exists`
 * for the lease's czxid, and one more read of Curator leases not seen before.
 *
 * The fencing token of a permit is its lease's czxid: leases come to hold in sequence order (a
 * native one is created by whoever holds the turnstile), so a permit granted after another has
 * a larger token.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { NativeLockLocation } from '@lockstep/core';
import type { AcquireRequest, LockDriver, SemaphoreRef } from '@lockstep/core/driver';
import type { Contender, LineShape } from './contender.js';
import { Code, hasCode, unavailable } from './errors.js';
import { ZkGrant } from './grant.js';
import { QueueLeft } from './line.js';
import type { LockContext } from './locks.js';
import { child, LEASE_NAME, LOCK_NAME, semaphoreLayout, validateNativePath } from './paths.js';
import { MUTEX_RULE, type Position, permitPosition, type QueueRule, SEQUENCE_MARKERS } from './queue.js';

/** How many unnamed leases' declared counts a coordinator remembers (a lease's data never changes). */
const REMEMBERED_LEASES = 4_096;
/** A declared count as a lease's data stores it: a positive decimal safe integer, nothing else. */
const DECLARED = /^[1-9][0-9]{0,15}$/;
/** A lease name carrying its count: `…-lease-of-<count>-<sequence>`. */
const NAMED_COUNT = /-lease-of-([1-9][0-9]{0,15})-[^-]*$/;

/** The queues of one semaphore. */
interface SemaphoreShapes {
  readonly leases: LineShape;
  /** A native semaphore's turnstile. */
  readonly turnstile?: LineShape;
}

/** The permits a lease's data declares, or `undefined` when it declares none (a Curator lease). */
export function declaredPermits(data: Buffer): number | undefined {
  return parseCount(data.toString('latin1'), DECLARED);
}

/** The permits a lease's name declares, `undefined` when its name has none (read its data). */
export function namedPermits(name: string): number | undefined {
  return parseCount(name, NAMED_COUNT);
}

/** The lease name's marker that carries `permits` (the sequence follows it). */
export function leaseMarker(permits: number): string {
  return `${LEASE_NAME}of-${permits}-`;
}

function parseCount(text: string, form: RegExp): number | undefined {
  const digits = form.exec(text)?.at(-1);
  if (digits === undefined) return undefined;
  const permits = Number(digits);
  return Number.isSafeInteger(permits) ? permits : undefined;
}

/** Semaphore operations over one coordinator's session. */
export class ZkSemaphores implements LockDriver<SemaphoreRef> {
  readonly #ctx: LockContext;
  readonly #shapes = new WeakMap<SemaphoreRef, SemaphoreShapes>();
  /** Unnamed lease path → the permits its data declares (`undefined`: none), oldest first. */
  readonly #declared = new Map<string, number | undefined>();

  constructor(ctx: LockContext) {
    this.#ctx = ctx;
  }

  validateNative(native: NativeLockLocation): void {
    validateNativePath(native);
  }

  async tryAcquire(request: AcquireRequest<SemaphoreRef>): Promise<ZkGrant | null> {
    const { leases, turnstile } = this.#shape(request.lock);
    const { line } = this.#ctx;
    if (!turnstile) return line.tryJoin(leases, request.ownerId, this.#granter(request));
    const turn = await line.tryJoin(turnstile, request.ownerId, (turn) => turn);
    if (!turn) return null;
    try {
      const lease = await this.#lease(turn, leases, request.ownerId);
      const seen = await line.position(lease, lease.children).catch(async (error: unknown) => {
        await line.withdraw(lease);
        throw unavailable('count the leases', error);
      });
      if (seen.position.kind === 'granted') return this.#granter(request)(line.holding(lease));
      await line.withdraw(lease);
      return null;
    } finally {
      void line.withdraw(turn);
    }
  }

  async acquire(request: AcquireRequest<SemaphoreRef>, signal: AbortSignal): Promise<ZkGrant> {
    const { leases, turnstile } = this.#shape(request.lock);
    const { line } = this.#ctx;
    if (!turnstile) return line.join(leases, request.ownerId, signal, this.#granter(request));
    for (let attempt = 0; ; attempt++) {
      // A second turn gets a fresh id: a node of the first may still stand (on a lost session).
      const ownerId = attempt === 0 ? request.ownerId : randomUUID().replaceAll('-', '');
      const turn = await line.join(turnstile, ownerId, signal, (turn) => turn);
      let lease: Contender | undefined;
      try {
        lease = await this.#lease(turn, leases, ownerId);
        const listed = await line.waitTurn(lease, signal);
        if (!signal.aborted) {
          // The permit is ours: the next acquirer's turn need not wait for our delete's answer.
          void line.withdraw(turn);
          return this.#granter(request)(line.holding(lease, listed));
        }
      } catch (error) {
        if (lease) await line.withdraw(lease);
        await line.withdraw(turn);
        if (signal.aborted) throw signal.reason;
        // Our lease (or our session) went while we waited: we never held a permit, so we queue again.
        if (error instanceof QueueLeft || !turn.session.live) continue;
        throw unavailable('wait', error);
      }
      await line.withdraw(lease!);
      await line.withdraw(turn);
      throw signal.reason;
    }
  }

  /** With the turnstile ours (`turn`), our lease, on the turn's session. */
  #lease(turn: Contender, shape: LineShape, ownerId: string): Promise<Contender> {
    return this.#ctx.line.enter(turn.session, shape, ownerId).catch((error: unknown) => {
      throw unavailable('create a lease', error);
    });
  }

  #granter(request: AcquireRequest<SemaphoreRef>): (lease: Contender) => ZkGrant {
    return (lease) => new ZkGrant(this.#ctx, lease, request.ttlMs);
  }

  /**
   * What the leases in `listed` declare, by name: read from their names, or once from the
   * data of those without a count in their name, all in one round trip. A lease gone before
   * it could be read declares nothing; its deletion wakes the waiter anyway.
   */
  async #counts(
    { session, layout }: Contender,
    listed: readonly string[],
  ): Promise<Map<string, number | undefined>> {
    const counts = new Map<string, number | undefined>();
    const unread: string[] = [];
    for (const name of listed) {
      const named = namedPermits(name);
      const path = child(layout.queue, name);
      if (named !== undefined) counts.set(name, named);
      else if (this.#declared.has(path)) counts.set(name, this.#declared.get(path));
      else unread.push(name);
    }
    if (unread.length === 0) return counts;
    const reads = session.together(() => unread.map((name) => session.getData(child(layout.queue, name))));
    const results = await Promise.allSettled(reads);
    results.forEach((result, i) => {
      if (result.status === 'rejected' && !hasCode(result.reason, Code.NO_NODE)) throw result.reason;
      const declared = result.status === 'fulfilled' ? declaredPermits(result.value.data) : undefined;
      counts.set(unread[i]!, declared);
      if (result.status === 'fulfilled') this.#remember(child(layout.queue, unread[i]!), declared);
    });
    return counts;
  }

  #remember(path: string, permits: number | undefined): void {
    this.#declared.set(path, permits);
    if (this.#declared.size > REMEMBERED_LEASES) {
      this.#declared.delete(this.#declared.keys().next().value as string);
    }
  }

  /** lockstep's leases: the first ones within every count declared up to them hold. */
  #permitRule(): QueueRule<Contender> {
    return {
      markers: SEQUENCE_MARKERS,
      passOn: true,
      judge: async (listed, lease) => {
        const counts = await this.#counts(lease, listed);
        return permitPosition(listed, lease.name, (name) => counts.get(name));
      },
    };
  }

  /**
   * Curator's leases, counted by whoever holds the turnstile: ours holds once all of them are
   * no more than the smallest count declared by us and by every lease; until then any change
   * of them may let it in.
   */
  #curatorRule(permits: number): QueueRule<Contender> {
    return {
      markers: SEQUENCE_MARKERS,
      judge: async (listed, lease): Promise<Position> => {
        if (!listed.includes(lease.name)) return { kind: 'gone' };
        const counts = await this.#counts(lease, listed);
        let limit = permits;
        for (const declared of counts.values())
          if (declared !== undefined && declared < limit) limit = declared;
        if (listed.length <= limit) return { kind: 'holder' };
        return { kind: 'waiting', predecessor: lease.name, ahead: listed.length - 1, children: true };
      },
    };
  }

  #shape(ref: SemaphoreRef): SemaphoreShapes {
    let shapes = this.#shapes.get(ref);
    if (!shapes) {
      const layout = semaphoreLayout(this.#ctx.base, ref);
      const lease = { marker: leaseMarker(ref.permits), data: Buffer.from(String(ref.permits)) };
      shapes = layout.turnstile
        ? {
            turnstile: { layout: layout.turnstile, rule: MUTEX_RULE, marker: LOCK_NAME },
            leases: { ...lease, layout: layout.leases, rule: this.#curatorRule(ref.permits) },
          }
        : { leases: { ...lease, layout: layout.leases, rule: this.#permitRule() } };
      this.#shapes.set(ref, shapes);
    }
    return shapes;
  }
}
