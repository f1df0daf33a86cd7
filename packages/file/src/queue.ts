/**
 * The lease record and the rules that read it: who holds a lock, a semaphore's permits, a
 * read-write lock's sides or an election, which waiting tickets still count, who fits, and what a
 * grant writes. Pure functions: the callers run them inside a critical section (or, to decide
 * whether one is worth entering, on a lock-free read).
 *
 * A record holds the current holders (owner, pid, fencing token, lease deadline, and the claim
 * each was granted: a declared permit count, or a read or write side), the token of the latest
 * grant, and the queue of waiting tickets in arrival order. Every primitive is this one
 * algorithm with a different claim: a lock is a semaphore of one permit, an election is a lock
 * whose holder carries the leader's value. A holder counts while its process is alive and its
 * lease has not passed; a ticket counts while its process is alive and its own lease (`until`)
 * has not passed — waiters push `until` forward while they wait, so a killed waiter is dropped at
 * once and a stopped one once its ticket lease runs out.
 * @module
 */
import type { AcquireRequest } from '@lockstep/core/driver';
import { PID_NAMESPACE, processAlive } from './clock.js';

/**
 * What a request asks for: `permits` of a semaphore (1 for a lock and an election, whose
 * candidate also brings the `value` it proclaims), or one side of a read-write lock.
 */
export type Claim =
  | { readonly permits: number; readonly value?: string }
  | { readonly mode: 'read' | 'write' };

/** One granted lock, permit, read-write grant or leadership. */
export interface Holder {
  /** The granted attempt's owner id. */
  readonly owner: string;
  readonly pid: number;
  /** The PID namespace `pid` belongs to. */
  readonly pidns: string;
  /** This grant's fencing token (a decimal string: bigint-safe JSON). */
  readonly token: string;
  /** Monotonic instant at which the holder's lease ends. */
  readonly deadline: number;
  /** The permit count the holder declared: 1 for a lock and an election (absent for read-write grants). */
  readonly permits?: number;
  /** The side a read-write grant holds. */
  readonly mode?: 'read' | 'write';
  /** An election leader's proclaimed value. */
  readonly value?: string;
}

/** One waiting acquire. */
export interface Ticket {
  /** The waiting attempt's owner id: the value the grant will carry. */
  readonly owner: string;
  readonly pid: number;
  /** The PID namespace `pid` belongs to (absent in records written before it was kept). */
  readonly pidns?: string;
  /** Monotonic instant after which the ticket no longer counts unless refreshed. */
  readonly until: number;
}

/** What a lock or semaphore file says. */
export interface LeaseRecord {
  readonly name: string;
  /** The token of the latest grant: the next grant gets a larger one. */
  readonly token: string;
  /** The holders in grant order; absent when nobody holds. */
  readonly holders?: readonly Holder[];
  /** Waiting tickets, first come first; absent when nobody waits. */
  readonly queue?: readonly Ticket[];
}

/** Whether a holder still holds: its lease is running and its process lives. */
export function holds(holder: Holder, now: number): boolean {
  return holder.deadline > now && processAlive(holder.pid, holder.pidns);
}

/** The holders that still hold (the record's own array when all of them do). */
export function liveHolders(record: LeaseRecord | undefined, now: number): readonly Holder[] {
  const holders = record?.holders;
  if (holders === undefined) return NOBODY;
  // The common case, nobody gone, allocates nothing.
  return holders.every((holder) => holds(holder, now)) ? holders : holders.filter((h) => holds(h, now));
}

const NOBODY: readonly Holder[] = [];

/**
 * Whether one more holder of `claim` fits beside `holders`. A permit: fewer holders than the
 * smallest count declared by it and by every holder, so clients that declare different counts
 * never let in more holders than the smallest of them. A read: no writer holds. A write: nobody
 * holds.
 */
export function fits(holders: readonly Holder[], claim: Claim): boolean {
  if ('mode' in claim) {
    if (claim.mode === 'write') return holders.length === 0;
    for (const holder of holders) if (holder.mode === 'write') return false;
    return true;
  }
  let limit = claim.permits;
  for (const holder of holders) {
    if (holder.permits !== undefined && holder.permits < limit) limit = holder.permits;
  }
  return holders.length < limit;
}

/** Whether a ticket still holds its place: its process lives and its lease has not passed. */
export function ticketCounts(ticket: Ticket, now: number): boolean {
  return ticket.until > now && processAlive(ticket.pid, ticket.pidns ?? PID_NAMESPACE);
}

/** The earliest deadline among `holders`: when a permit comes back if nobody releases. */
export function firstDeadline(holders: readonly Holder[]): number | undefined {
  let first: number | undefined;
  for (const holder of holders) if (first === undefined || holder.deadline < first) first = holder.deadline;
  return first;
}

/**
 * The record after granting `request` (for `claim`) at `now` beside the holders that still hold:
 * the next token, the given queue. Holders that no longer hold are dropped here, so a lapsed
 * holder can never renew itself back in beside the one that took its place.
 */
export function granted(
  record: LeaseRecord | undefined,
  holders: readonly Holder[],
  request: AcquireRequest,
  claim: Claim,
  now: number,
  queue: readonly Ticket[],
): LeaseRecord {
  const token = (BigInt(record?.token ?? '0') + 1n).toString();
  const owner = request.ownerId;
  const deadline = now + request.ttlMs;
  const pid = process.pid;
  // Built literally per claim (no spread): a lock's grant is on every cycle.
  const holder: Holder =
    'mode' in claim
      ? { owner, pid, pidns: PID_NAMESPACE, token, deadline, mode: claim.mode }
      : claim.value === undefined
        ? { owner, pid, pidns: PID_NAMESPACE, token, deadline, permits: claim.permits }
        : { owner, pid, pidns: PID_NAMESPACE, token, deadline, permits: claim.permits, value: claim.value };
  return recordOf(request.lock.name, token, [...holders, holder], queue);
}

/** The holder `owner` in the record, if it is one. */
export function holderOf(record: LeaseRecord | undefined, owner: string): Holder | undefined {
  return record?.holders?.find((holder) => holder.owner === owner);
}

/** The record with `holders` as its holders (the field is left out when there are none). */
export function withHolders(record: LeaseRecord, holders: readonly Holder[]): LeaseRecord {
  return recordOf(record.name, record.token, holders, record.queue);
}

/** The record with `queue` as its tickets (the field is left out when there are none). */
export function withQueue(record: LeaseRecord, queue: readonly Ticket[]): LeaseRecord {
  return recordOf(record.name, record.token, record.holders, queue);
}

/** A record from its parts, leaving out empty lists (built field by field: it is on every cycle). */
function recordOf(
  name: string,
  token: string,
  holders: readonly Holder[] | undefined,
  queue: readonly Ticket[] | undefined,
): LeaseRecord {
  const hasHolders = holders !== undefined && holders.length > 0;
  const hasQueue = queue !== undefined && queue.length > 0;
  if (hasHolders) return hasQueue ? { name, token, holders, queue } : { name, token, holders };
  return hasQueue ? { name, token, queue } : { name, token };
}

/** An empty record for a name that was never granted but has waiters. */
export function unheld(name: string): LeaseRecord {
  return { name, token: '0' };
}
