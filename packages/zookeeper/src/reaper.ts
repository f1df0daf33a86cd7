/**
 * Removes lock queue nodes that are left empty, the job ZooKeeper's CONTAINER nodes would do
 * (node-zookeeper-client cannot create those: it has no createContainer request).
 *
 * Removal is deferred: a queue this coordinator stops using is deleted after a short idle
 * delay, not on every release, so a lock taken again and again does not pay for re-creating
 * its queue node each time. A delete of a non-empty node fails (NOT_EMPTY) and a contender
 * whose queue vanished under its create re-creates it and retries, so races with other
 * clients are harmless. `flush()` (on close) deletes what is still scheduled.
 *
 * A native queue node (issue 10) is a path someone chose — Curator's lock path, perhaps created
 * by an operator with its own ACL — so it is only removed when this coordinator created it.
 * @module
 */
import type { LockLayout } from './paths.js';
import type { SessionSource } from './source.js';

/** Idle time before an unused queue node is removed. */
export const REAP_DELAY_MS = 1_000;

/** Counts this coordinator's users of each queue node and removes idle ones. */
export class QueueReaper {
  readonly #source: SessionSource;
  readonly #delayMs: number;
  readonly #users = new Map<string, number>();
  /** Native queue nodes this coordinator created (the only native ones it may remove). */
  readonly #created = new Set<string>();
  /** Queues nobody here uses any more, and since when (`performance.now()`). */
  readonly #idleSince = new Map<string, number>();
  /** One timer for all of them (a lock cycle must not pay for a timer of its own). */
  #timer: NodeJS.Timeout | undefined;

  constructor(source: SessionSource, delayMs = REAP_DELAY_MS) {
    this.#source = source;
    this.#delayMs = delayMs;
  }

  /** This coordinator created the queue node `queue`. */
  created(queue: string): void {
    this.#created.add(queue);
  }

  /** A contender starts using a queue. */
  enter({ queue }: LockLayout): void {
    this.#users.set(queue, (this.#users.get(queue) ?? 0) + 1);
    this.#idleSince.delete(queue);
  }

  /** A contender is done with a queue (released, withdrew, or failed). */
  leave({ queue, native }: LockLayout): void {
    const users = (this.#users.get(queue) ?? 1) - 1;
    if (users > 0) {
      this.#users.set(queue, users);
      return;
    }
    this.#users.delete(queue);
    if (native && !this.#created.has(queue)) return;
    this.#idleSince.set(queue, performance.now());
    if (!this.#timer) this.#arm(this.#delayMs);
  }

  /** Removes every idle queue node now (best effort). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const queues = [...this.#idleSince.keys()];
    this.#idleSince.clear();
    await Promise.all(queues.map((queue) => this.#reap(queue)));
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => this.#tick(), Math.max(1, delayMs));
    this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [queue, since] of this.#idleSince) {
      const due = since + this.#delayMs;
      if (due <= now) {
        this.#idleSince.delete(queue);
        void this.#reap(queue);
      } else {
        next = Math.min(next, due);
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next - now);
  }

  async #reap(queue: string): Promise<void> {
    if (this.#users.has(queue)) return;
    this.#created.delete(queue);
    // Only over a session that already exists: never connect just to tidy up.
    await this.#source.current?.remove(queue).catch(() => {
      // NOT_EMPTY: someone queues there; NO_NODE: already gone; connection trouble: next time.
    });
  }
}
