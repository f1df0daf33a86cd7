/**
 * Work that must happen eventually: the delete of a queue entry whose reply was lost, a
 * release that could not reach the server, a node a lost create may still produce. Left
 * undone, such an entry blocks its lock for everyone until its session ends — and a shared
 * session lives as long as the coordinator. So the sweeper retries in the background, with
 * backoff, until each task is done, no longer matters, or the coordinator closes.
 *
 * One timer for all tasks (a lock cycle must not pay for one), and a round's attempts run a
 * few at a time: thousands of deletes sent at once (a coordinator releasing 10,000 locks
 * leaves as many queue nodes to remove) sit ahead of the session's keep-alive on the server,
 * and a keep-alive answered only after the whole burst lets the session's trust window run
 * out. The number of tasks is bounded too: past the bound the oldest is dropped (its entry
 * then waits for its session to end), so memory stays bounded during a long outage.
 * @module
 */

/** What a task's attempt found. */
export type SweepOutcome =
  /** Done (or no longer needed: the session it belonged to is over). */
  | 'done'
  /** Not yet: try again later. */
  | 'retry';

/** One piece of background work. */
export interface SweepTask {
  /** One attempt; a rejection counts as `retry`. */
  attempt(): Promise<SweepOutcome>;
  /** Runs once when the task leaves the sweeper: done, dropped, expired or closed. */
  settled?(): void;
  /** `performance.now()` after which the task is dropped without another attempt. */
  readonly until?: number;
}

/** Options of {@link Sweeper}. */
export interface SweeperOptions {
  /** First retry delay; doubles per fruitless round. Default 100 ms. */
  readonly initialMs?: number;
  /** Cap on the delay. Default 2000 ms. */
  readonly maxMs?: number;
  /** Most tasks kept. Default 10 000. */
  readonly maxTasks?: number;
  /** Most attempts in flight at once within a round. Default 32. */
  readonly concurrency?: number;
}

/** Retries tasks in the background until each is done (see the module comment). */
export class Sweeper {
  readonly #tasks = new Set<SweepTask>();
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #maxTasks: number;
  readonly #concurrency: number;
  #delayMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: SweeperOptions = {}) {
    this.#initialMs = options.initialMs ?? 100;
    this.#maxMs = options.maxMs ?? 2_000;
    this.#maxTasks = options.maxTasks ?? 10_000;
    this.#concurrency = options.concurrency ?? 32;
    this.#delayMs = this.#initialMs;
  }

  /** Tasks not yet settled. */
  get pending(): number {
    return this.#tasks.size;
  }

  /** Adds a task; the next round comes soon (the delay starts over). */
  add(task: SweepTask): void {
    this.#tasks.add(task);
    if (this.#tasks.size > this.#maxTasks) {
      const oldest = this.#tasks.values().next().value as SweepTask;
      this.#settle(oldest);
    }
    this.#delayMs = this.#initialMs;
    this.#arm(true);
  }

  /** Runs a round now (e.g. after a reconnect: what failed may work at once). */
  nudge(): void {
    this.#delayMs = this.#initialMs;
    this.#arm(true, 0);
  }

  /** One last round, then every remaining task is settled (on close). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
    await this.#round();
    for (const task of [...this.#tasks]) this.#settle(task);
  }

  /** Settles every task without another attempt. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const task of [...this.#tasks]) this.#settle(task);
  }

  #arm(reset: boolean, delayMs = this.#delayMs): void {
    if (this.#tasks.size === 0) return;
    if (this.#timer && !reset) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running ??= this.#round().finally(() => {
        this.#running = undefined;
        if (this.#tasks.size > 0) {
          this.#delayMs = Math.min(this.#delayMs * 2, this.#maxMs);
          this.#arm(false);
        }
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #round(): Promise<void> {
    const now = performance.now();
    const due = [...this.#tasks];
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const task = due[next++]!;
        // Settled meanwhile (dropped past the bound, or closed): nothing left to try.
        if (!this.#tasks.has(task)) continue;
        if (task.until !== undefined && now > task.until) {
          this.#settle(task);
          continue;
        }
        const outcome = await task.attempt().catch((): SweepOutcome => 'retry');
        if (outcome === 'done') this.#settle(task);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, due.length) }, worker));
  }

  #settle(task: SweepTask): void {
    if (!this.#tasks.delete(task)) return;
    task.settled?.();
  }
}
