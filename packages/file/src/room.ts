/**
 * Waiting for a lock, a semaphore's permit, a side of a read-write lock or an election's
 * leadership, first come first served, across every process of the host.
 *
 * Each waiter holds a ticket in the record's queue. Only the first ticket that still counts may
 * take what is free, and nobody behind it goes first: a releaser that asks again goes to the back
 * instead of winning the race, and a waiter that would fit does not pass a head that does not (it
 * declared a smaller count, or it is a writer while readers hold).
 *
 * The waiters of this process for one file share one waiting room, and the room does their work
 * together: one critical section enqueues every newcomer, removes every ticket whose wait was
 * stopped, pushes every ticket lease forward, and grants the head of the queue, then the next,
 * for as long as the head is ours and fits. A change notification costs one lock-free read, and
 * a critical section only when that read shows our ticket first with room for it, so W waiters
 * in one process cost O(1) sections per grant rather than W attempts, and a release wakes only
 * the waiters it lets in.
 *
 * The room re-checks on its own as well: when a holder's lease or the first ticket's lease
 * ends, when one of its tickets is due for renewal, and on a short backing-off poll (a dead
 * process writes nothing to notice, and a notification can be missed).
 * @module
 */
import type { AcquireRequest, LeaseGrant } from '@lockstep/core/driver';
import { monotonicNowMs, PID_NAMESPACE } from './clock.js';
import { withFileLock } from './flock.js';
import { leaseGrant, tellDropped } from './grant.js';
import {
  type Claim,
  firstDeadline,
  fits,
  granted,
  holderOf,
  type LeaseRecord,
  liveHolders,
  type Ticket,
  ticketCounts,
  unheld,
  withQueue,
} from './queue.js';
import { peekRecord, readRecord, writeRecord } from './record.js';
import { watchFile } from './watcher.js';

/** Backing-off re-check for what no notification reports (dead processes, missed events). */
const POLL = { initialMs: 25, maxMs: 250 };

/** A ticket is pushed forward once this share of its lease is left: renewal at ttl/3, like leases. */
const REFRESH_WHEN_LEFT = 2 / 3;

type WaiterState =
  /** Asked to wait; no ticket written yet. */
  | 'joining'
  /** Has (or had, if it lapsed) a ticket in the record. */
  | 'queued'
  /** Its wait was stopped: the ticket must go before the wait rejects. */
  | 'leaving';

interface Waiter {
  readonly request: AcquireRequest;
  /** What it asks for. */
  readonly claim: Claim;
  readonly signal: AbortSignal;
  state: WaiterState;
  /** The `until` of its ticket as this process last wrote it. */
  ticketUntil: number;
  readonly resolve: (grant: LeaseGrant) => void;
  readonly reject: (reason: unknown) => void;
  readonly onAbort: () => void;
}

const rooms = new Map<string, WaitingRoom>();

/**
 * Waits in the queue of the file at `path` until `claim` is granted to `request`. When `signal`
 * aborts, the ticket is removed first and the wait then rejects with `signal.reason`.
 */
export function waitForTurn(
  path: string,
  request: AcquireRequest,
  claim: Claim,
  signal: AbortSignal,
): Promise<LeaseGrant> {
  let room = rooms.get(path);
  if (!room) {
    room = new WaitingRoom(path);
    rooms.set(path, room);
  }
  return room.join(request, claim, signal);
}

/** Lets this process's waiters of `path`, if any, look at the record now (after a local release). */
export function wakeWaiters(path: string): void {
  rooms.get(path)?.wake();
}

/**
 * The grant of `owner`, for a section that wrote it in as a holder at `before` (a
 * `performance.now()` reading).
 */
export function grantAt(
  path: string,
  record: LeaseRecord,
  owner: string,
  ttlMs: number,
  before: number,
): LeaseGrant {
  const token = BigInt(holderOf(record, owner)!.token);
  return leaseGrant({ path, owner, fencingToken: token, validUntil: before + ttlMs }, () =>
    wakeWaiters(path),
  );
}

class WaitingRoom {
  readonly #path: string;
  /** Arrival order (joining waiters last). */
  readonly #waiters: Waiter[] = [];
  readonly #byOwner = new Map<string, Waiter>();
  #pumping = false;
  #again = false;
  #wakeScheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #pollMs = POLL.initialMs;
  #unwatch: (() => void) | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  join(request: AcquireRequest, claim: Claim, signal: AbortSignal): Promise<LeaseGrant> {
    return new Promise<LeaseGrant>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const waiter: Waiter = {
        request,
        claim,
        signal,
        state: 'joining',
        ticketUntil: 0,
        resolve,
        reject,
        onAbort: () => this.#stop(waiter),
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#byOwner.set(request.ownerId, waiter);
      this.#pollMs = POLL.initialMs;
      this.#pump();
    });
  }

  /** A notification: look again soon, once however many arrive together. */
  wake(): void {
    if (this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      this.#pump();
    });
  }

  #stop(waiter: Waiter): void {
    if (waiter.state !== 'joining') {
      waiter.state = 'leaving';
      this.#pump();
      return;
    }
    // No ticket yet (sections run synchronously, so none is being written now): nothing to undo.
    this.#settle(waiter, () => waiter.reject(waiter.signal.reason));
    if (!this.#pumping) this.#afterPumping();
  }

  #pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void this.#run();
  }

  async #run(): Promise<void> {
    try {
      do {
        this.#again = false;
        await this.#step();
      } while (this.#again && this.#waiters.length > 0);
    } finally {
      this.#pumping = false;
    }
    this.#afterPumping();
  }

  /** One look: a lock-free read when it shows nothing for us to do, else one critical section. */
  async #step(): Promise<void> {
    if (this.#waiters.length === 0) return;
    if (!this.#hasChores(monotonicNowMs())) {
      const seen = peekRecord<LeaseRecord>(this.#path);
      const now = monotonicNowMs();
      if (seen !== undefined && !this.#mayAct(seen, now)) return this.#plan(seen, now);
    }
    try {
      const record = await withFileLock(this.#path, (fd) => this.#section(fd));
      this.#plan(record, monotonicNowMs());
    } catch (error) {
      this.#failed(error);
    }
  }

  /** Work that needs a section whatever the record says: tickets to write, remove or renew. */
  #hasChores(now: number): boolean {
    return this.#waiters.some((w) => w.state !== 'queued' || refreshDue(w, now));
  }

  /** Whether the record, read without the lock, shows something only a section can settle. */
  #mayAct(record: LeaseRecord, now: number): boolean {
    const present = new Set((record.queue ?? []).map((t) => t.owner));
    // A ticket of ours that someone dropped (we were stopped past its lease): queue again.
    if (this.#waiters.some((w) => !present.has(w.request.ownerId))) return true;
    const first = this.#firstCounting(record, now);
    return (
      first?.ours === true && fits(liveHolders(record, now), this.#byOwner.get(first.ticket.owner)!.claim)
    );
  }

  /** The first ticket that still counts (ours always count while we wait), and whether it is ours. */
  #firstCounting(record: LeaseRecord, now: number): { ticket: Ticket; ours: boolean } | undefined {
    for (const ticket of record.queue ?? []) {
      if (this.#byOwner.has(ticket.owner)) return { ticket, ours: true };
      if (ticketCounts(ticket, now)) return { ticket, ours: false };
    }
    return undefined;
  }

  /**
   * The critical section: drop tickets that no longer count or whose wait stopped, write
   * newcomers and due renewals, grant the head of the queue while it is ours and fits. The
   * outcome is applied to the waiters only after the write succeeded.
   */
  #section(fd: number): LeaseRecord | undefined {
    const before = performance.now();
    const record = readRecord<LeaseRecord>(fd);
    const now = monotonicNowMs();
    let changed = false;
    const queue: Ticket[] = [];
    const until = new Map<Waiter, number>();
    const enqueue = (waiter: Waiter, ticket: Ticket) => {
      queue.push(ticket);
      until.set(waiter, ticket.until);
    };
    for (const ticket of record?.queue ?? []) {
      const waiter = this.#byOwner.get(ticket.owner);
      if (waiter === undefined) {
        if (ticketCounts(ticket, now)) queue.push(ticket);
        else changed = true;
      } else if (waiter.state === 'leaving') {
        changed = true;
      } else if (refreshDue(waiter, now)) {
        enqueue(waiter, ticketFor(waiter, now));
        changed = true;
      } else {
        enqueue(waiter, ticket);
      }
    }
    for (const waiter of this.#waiters) {
      if (waiter.state === 'leaving' || until.has(waiter)) continue;
      enqueue(waiter, ticketFor(waiter, now));
      changed = true;
    }
    const winners = new Set<Waiter>();
    let next = record;
    const live = liveHolders(record, now);
    let holders = live;
    for (let head = this.#headOf(queue); head && fits(holders, head.claim); head = this.#headOf(queue)) {
      queue.shift();
      next = granted(next, holders, head.request, head.claim, now, NO_TICKETS);
      holders = next.holders!;
      winners.add(head);
    }
    if (winners.size > 0) next = withQueue(next!, queue);
    else if (changed) next = withQueue(record ?? unheld(this.#waiters[0]!.request.lock.name), queue);
    if (next !== record) writeRecord(fd, next);
    if (winners.size > 0) tellDropped(record, live);

    for (const waiter of [...this.#waiters]) {
      if (winners.has(waiter)) {
        const grant = grantAt(this.#path, next!, waiter.request.ownerId, waiter.request.ttlMs, before);
        this.#settle(waiter, () => waiter.resolve(grant));
      } else if (waiter.state === 'leaving') {
        this.#settle(waiter, () => waiter.reject(waiter.signal.reason));
      } else {
        waiter.state = 'queued';
        waiter.ticketUntil = until.get(waiter) ?? waiter.ticketUntil;
      }
    }
    return next;
  }

  /** Our waiter holding the first ticket of `queue`, if the first ticket is ours. */
  #headOf(queue: readonly Ticket[]): Waiter | undefined {
    return queue[0] && this.#byOwner.get(queue[0].owner);
  }

  /** A section failed (I/O error, lock busy too long): end the waits it was to start or stop. */
  #failed(error: unknown): void {
    for (const waiter of [...this.#waiters]) {
      // A ticket left behind by a stopped wait lapses after its lease.
      if (waiter.state === 'leaving') this.#settle(waiter, () => waiter.reject(waiter.signal.reason));
      else if (waiter.state === 'joining') this.#settle(waiter, () => waiter.reject(error));
    }
    this.#plan(undefined, monotonicNowMs());
  }

  #settle(waiter: Waiter, outcome: () => void): void {
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
    this.#byOwner.delete(waiter.request.ownerId);
    outcome();
  }

  /** Sets the next re-check: whichever comes first of a lease ending, a renewal, the poll. */
  #plan(record: LeaseRecord | undefined, now: number): void {
    let at = now + this.#pollMs;
    for (const waiter of this.#waiters) at = Math.min(at, refreshAt(waiter));
    if (record !== undefined) {
      at = Math.min(at, firstDeadline(liveHolders(record, now)) ?? at);
      const first = this.#firstCounting(record, now);
      if (first && !first.ours) at = Math.min(at, first.ticket.until);
    }
    clearTimeout(this.#timer);
    // +1 ms: a lease that ends at `at` is over only after it.
    this.#timer = setTimeout(() => this.#recheck(), Math.max(0, at - now) + 1);
    this.#timer.unref();
  }

  #recheck(): void {
    this.#timer = undefined;
    this.#pollMs = Math.min(this.#pollMs * 2, POLL.maxMs);
    this.#pump();
  }

  /** Opens the notification watch once someone waits, closes the room when nobody does. */
  #afterPumping(): void {
    if (this.#waiters.length === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#unwatch?.();
      this.#unwatch = undefined;
      if (rooms.get(this.#path) === this) rooms.delete(this.#path);
      return;
    }
    if (this.#unwatch === undefined) {
      this.#unwatch = watchFile(this.#path, () => this.wake());
      // A release between our last look and the watch opening sent nothing we could hear.
      this.#pump();
    }
  }
}

const NO_TICKETS: readonly Ticket[] = [];

function ticketFor(waiter: Waiter, now: number): Ticket {
  return {
    owner: waiter.request.ownerId,
    pid: process.pid,
    pidns: PID_NAMESPACE,
    until: now + waiter.request.ttlMs,
  };
}

function refreshAt(waiter: Waiter): number {
  return waiter.ticketUntil - waiter.request.ttlMs * REFRESH_WHEN_LEFT;
}

function refreshDue(waiter: Waiter, now: number): boolean {
  return now >= refreshAt(waiter);
}
