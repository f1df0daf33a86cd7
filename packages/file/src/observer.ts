/**
 * Observing an election: who leads, as the record says, reported once per change, in order.
 *
 * An observer watches the election file (the directory watch waiters use: one `fs.watch` per
 * directory per process) and looks again after every write to it — a grant, a release, a
 * proclaim, a renewal. A look is a lock-free read; only when that read shows another leader or
 * value than the one last reported does the observer read the record again inside a critical
 * section, and reports what that read shows. So a torn lock-free read can never be reported, and
 * a renewal (the same leader, a later deadline) costs one read and no section.
 *
 * What no write announces is found by re-reading on a timer: the leader's lease ending (a
 * re-read at its deadline reports the vacancy) and the leader's process dying (its pid gone;
 * a backing-off re-read, 25 ms doubling to 250 ms, reset after each change).
 * @module
 */
import type { LeaderInfo } from '@lockstep/core';
import { monotonicNowMs } from './clock.js';
import { withExistingFileLock } from './flock.js';
import { type LeaseRecord, liveHolders } from './queue.js';
import { peekRecord, readRecord } from './record.js';
import { watchFile } from './watcher.js';

/** Re-read schedule for what no notification reports: a dead leader's pid, a missed event. */
const POLL = { initialMs: 25, maxMs: 250 };

/** The leader a record names at `now`: its first holder that still holds, or `null`. */
export function leaderOf(record: LeaseRecord | undefined, now: number): LeaderInfo | null {
  const holder = liveHolders(record, now)[0];
  return holder === undefined ? null : { value: holder.value ?? '', term: BigInt(holder.token) };
}

function sameLeader(a: LeaderInfo | null, b: LeaderInfo | null | undefined): boolean {
  if (a === null || b === null || b === undefined) return a === b;
  return a.term === b.term && a.value === b.value;
}

/**
 * Calls `onChange` with the leader of the election file at `path` now, then after every change,
 * until `signal` aborts. Resolves once the first state was reported and watching has begun.
 */
export async function observeLeader(
  path: string,
  onChange: (leader: LeaderInfo | null) => void,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return;
  const observer = new LeaderObserver(path, onChange);
  await observer.start();
  if (signal.aborted) observer.close();
  else signal.addEventListener('abort', () => observer.close(), { once: true });
}

class LeaderObserver {
  readonly #path: string;
  readonly #onChange: (leader: LeaderInfo | null) => void;
  /** What was reported last; `undefined` before the first report. */
  #told: LeaderInfo | null | undefined;
  #looking = false;
  #again = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #pollMs = POLL.initialMs;
  #unwatch: (() => void) | undefined;

  constructor(path: string, onChange: (leader: LeaderInfo | null) => void) {
    this.#path = path;
    this.#onChange = onChange;
  }

  /** Opens the watch, then reports the first state: a change between the two is heard. */
  async start(): Promise<void> {
    this.#unwatch = watchFile(this.#path, () => this.#wake());
    this.#looking = true;
    try {
      await this.#confirm();
    } catch (error) {
      this.close();
      throw error;
    } finally {
      this.#looking = false;
    }
    if (this.#again) void this.#look();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  #wake(): void {
    if (this.#closed) return;
    if (this.#looking) {
      this.#again = true;
      return;
    }
    void this.#look();
  }

  async #look(): Promise<void> {
    this.#looking = true;
    try {
      do {
        this.#again = false;
        const seen = peekRecord<LeaseRecord>(this.#path);
        const now = monotonicNowMs();
        if (seen !== undefined && sameLeader(leaderOf(seen, now), this.#told)) this.#plan(seen, now);
        else await this.#confirm();
      } while (this.#again && !this.#closed);
    } catch {
      // A section that could not be entered (a process stopped inside it): the next look retries.
      this.#plan(undefined, monotonicNowMs());
    } finally {
      this.#looking = false;
    }
  }

  /** Reads the record inside a section and reports its leader if it changed. */
  async #confirm(): Promise<void> {
    const record = await withExistingFileLock(this.#path, (fd) => readRecord<LeaseRecord>(fd));
    if (this.#closed) return;
    const now = monotonicNowMs();
    const leader = leaderOf(record, now);
    if (this.#told === undefined || !sameLeader(leader, this.#told)) {
      this.#told = leader;
      this.#pollMs = POLL.initialMs;
      this.#onChange(leader);
    }
    this.#plan(record, now);
  }

  /** The next re-read: at the leader's deadline (its vacancy) or on the poll, whichever is first. */
  #plan(record: LeaseRecord | undefined, now: number): void {
    if (this.#closed) return;
    let at = now + this.#pollMs;
    const leader = liveHolders(record, now)[0];
    if (leader !== undefined && leader.deadline < at) at = leader.deadline;
    clearTimeout(this.#timer);
    // +1 ms: a lease that ends at `at` is over only after it.
    this.#timer = setTimeout(
      () => {
        this.#pollMs = Math.min(this.#pollMs * 2, POLL.maxMs);
        this.#wake();
      },
      Math.max(0, at - now) + 1,
    );
    this.#timer.unref();
  }
}
