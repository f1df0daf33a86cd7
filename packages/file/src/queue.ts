/**
 * The lock record and the rules that read it: who holds the lock, which waiting tickets
 * still count, and what a grant writes. Pure functions: the callers run them inside a
 * critical section (or, to decide whether one is worth entering, on a lock-free read).
 *
 * A record holds the current grant (owner, pid, fencing token, lease deadline) and the
 * queue of waiting tickets in arrival order. A ticket counts while its process is alive and
 * its own lease (`until`) has not passed; waiters push `until` forward while they wait, so a
 * killed waiter is dropped at once and a stopped one once its ticket lease runs out.
 * @module
 */
import type { AcquireRequest } from '@lockstep/core';
import { PID_NAMESPACE, processAlive } from './clock.js';

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

/** What a lock file says. Tokens are decimal strings (bigint-safe JSON). */
export interface LockRecord {
  readonly name: string;
  readonly token: string;
  readonly owner: string | null;
  readonly pid: number;
  /** The PID namespace `pid` belongs to (absent in records written before it was kept). */
  readonly pidns?: string;
  /** Monotonic instant at which the holder's lease ends. */
  readonly deadline: number;
  /** Waiting tickets, first come first; absent in records that never had a waiter. */
  readonly queue?: readonly Ticket[];
}

/** Whether someone holds the lock now: an owner whose lease is running and whose process lives. */
export function isHeld(record: LockRecord | undefined, now: number): boolean {
  return !!record?.owner && record.deadline > now && processAlive(record.pid, record.pidns ?? PID_NAMESPACE);
}

/** Whether a ticket still holds its place: its process lives and its lease has not passed. */
export function ticketCounts(ticket: Ticket, now: number): boolean {
  return ticket.until > now && processAlive(ticket.pid, ticket.pidns ?? PID_NAMESPACE);
}

/** The record after granting the lock to `request` at `now`: the next token, the given queue. */
export function granted(
  record: LockRecord | undefined,
  request: AcquireRequest,
  now: number,
  queue: readonly Ticket[],
): LockRecord {
  const token = (BigInt(record?.token ?? '0') + 1n).toString();
  const { lock, ownerId, ttlMs } = request;
  return withQueue(
    { name: lock.name, token, owner: ownerId, pid: process.pid, pidns: PID_NAMESPACE, deadline: now + ttlMs },
    queue,
  );
}

/** The record with no holder; the token stays, so the next grant gets a larger one. */
export function freed(record: LockRecord): LockRecord {
  const { pidns: _pidns, ...rest } = record;
  return { ...rest, owner: null, pid: 0, deadline: 0 };
}

/** The record with `queue` as its tickets (the field is left out when there are none). */
export function withQueue(record: LockRecord, queue: readonly Ticket[]): LockRecord {
  const { queue: _old, ...rest } = record;
  return queue.length === 0 ? rest : { ...rest, queue };
}

/** An empty record for a lock that was never granted but has waiters. */
export function unheld(name: string): LockRecord {
  return { name, token: '0', owner: null, pid: 0, deadline: 0 };
}
