/**
 * Nodes of ours that must go, deleted in the background by core's `Sweeper` (one timer for
 * all of them, retries with backoff, settled on close):
 *
 * - contender nodes whose delete had an unknown outcome (the connection failed under it), and
 *   nodes of a session the trust clock gave up on while the server kept it (a client you own
 *   may reconnect to it);
 * - nodes a create may still produce after its reply was lost (found by their protected prefix);
 * - queue nodes left empty, the job ZooKeeper's CONTAINER nodes would do (node-zookeeper-client
 *   cannot create those), and after them the node they belong to (a semaphore's, once both its
 *   turnstile and its leases are gone). Removal waits until a queue has been unused here for
 *   {@link REAP_DELAY_MS}, so a lock taken again and again does not pay for re-creating its
 *   queue node each time. A delete of a non-empty node fails (NOT_EMPTY) and a contender whose
 *   queue vanished under its create re-creates it, so races with other clients are harmless. A
 *   native node is a path someone chose (Curator's lock path, perhaps made by an operator with
 *   its own ACL): it is only removed when this coordinator created it.
 *
 * Safe by construction: every contender path lockstep deletes carries a per-attempt UUID, so it
 * can only be our own node. A contender entry belongs to one ZooKeeper session; once another
 * session is live, that one is over and its ephemeral nodes went with it. Nothing here ever
 * connects just to tidy up.
 * @module
 */
import { Sweeper, type SweepOutcome } from '@lockstep/core/driver';
import { Code, hasCode } from './errors.js';
import { child, type LockLayout } from './paths.js';
import type { ZkSession } from './session.js';
import type { SessionSource } from './source.js';

/** Idle time before an unused queue node is removed. */
export const REAP_DELAY_MS = 1_000;

/** This coordinator's leftover nodes and queue users. */
export class Leftovers {
  readonly #source: SessionSource;
  readonly #sweeper = new Sweeper({ initialMs: 100, maxMs: 1_000, maxTasks: 50_000 });
  /** Contenders (queued or holding) of this coordinator per queue node. */
  readonly #users = new Map<string, number>();
  /** Native nodes this coordinator created (the only native ones it may remove). */
  readonly #created = new Set<string>();
  /** Queues scheduled for removal, and since when nobody here uses them (`performance.now()`). */
  readonly #idleSince = new Map<string, number>();
  #closing = false;

  constructor(source: SessionSource) {
    this.#source = source;
    // What failed over the last session may work at once over a new one (or be moot).
    source.onSession = () => this.#sweeper.nudge();
  }

  /** Deletes `path` (a node of `session`) once it can. */
  deleteLater(session: ZkSession, path: string): void {
    this.#sweeper.add({
      attempt: () =>
        this.#over(session, (live) =>
          live.remove(path).then(
            () => 'done',
            (error: unknown) => (hasCode(error, Code.NO_NODE) ? 'done' : 'retry'),
          ),
        ),
    });
  }

  /**
   * Deletes any child of `parent` named with `prefix` that appears while `session` lives, for
   * about two session timeouts (by then a create sent before a lost connection has landed or
   * never will).
   */
  watchForLateCreate(session: ZkSession, parent: string, prefix: string): void {
    this.#sweeper.add({
      until: performance.now() + 2 * session.timeoutMs,
      attempt: () =>
        this.#over(session, async (live) => {
          try {
            const children = await live.getChildren(parent);
            const late = children.filter((name) => name.startsWith(prefix));
            await Promise.all(late.map((name) => live.remove(child(parent, name)).catch(() => {})));
            return 'retry';
          } catch (error) {
            return hasCode(error, Code.NO_NODE) ? 'done' : 'retry'; // no parent: nothing under it
          }
        }),
    });
  }

  /** This coordinator created `node` (a queue node, or the node a queue belongs to). */
  created(node: string): void {
    this.#created.add(node);
  }

  /** A contender starts using a queue. */
  enter({ queue }: LockLayout): void {
    this.#users.set(queue, (this.#users.get(queue) ?? 0) + 1);
  }

  /** A contender is done with a queue (released, withdrew, lost or failed). */
  leave(layout: LockLayout): void {
    const { queue, native, container } = layout;
    const users = (this.#users.get(queue) ?? 1) - 1;
    if (users > 0) {
      this.#users.set(queue, users);
      return;
    }
    this.#users.delete(queue);
    if (native && !this.#created.has(queue) && !(container && this.#created.has(container))) return;
    const scheduled = this.#idleSince.has(queue);
    this.#idleSince.set(queue, performance.now());
    if (!scheduled) {
      this.#sweeper.add({ attempt: () => this.#reap(layout), settled: () => this.#idleSince.delete(queue) });
    }
  }

  /** One last round (idle queues removed without waiting out their delay), then forget everything. */
  async flush(): Promise<void> {
    this.#closing = true;
    await this.#sweeper.flush();
  }

  async #reap({ queue, native, container }: LockLayout): Promise<SweepOutcome> {
    // In use again: its next leave schedules it anew.
    if (this.#users.has(queue)) return 'done';
    if (!this.#closing && performance.now() - this.#idleSince.get(queue)! < REAP_DELAY_MS) return 'retry';
    const session = this.#source.current;
    // NOT_EMPTY: someone queues there; NO_NODE: already gone; connection trouble: left for next time.
    const removed = async (node: string) => {
      if (native && !this.#created.has(node)) return true;
      const gone = await session?.remove(node).then(
        () => true,
        (error: unknown) => hasCode(error, Code.NO_NODE),
      );
      if (gone) this.#created.delete(node);
      return gone === true;
    };
    // The container goes once its last queue has (a delete of it fails while the other one stands).
    if ((await removed(queue)) && container !== undefined) await removed(container);
    return 'done';
  }

  /** Runs `attempt` over `session` if it is the live one; done when another session took over. */
  #over(session: ZkSession, attempt: (live: ZkSession) => Promise<SweepOutcome>): Promise<SweepOutcome> {
    const live = this.#source.current;
    if (!live) return Promise.resolve('retry');
    return live.id === session.id ? attempt(live) : Promise.resolve('done');
  }
}
