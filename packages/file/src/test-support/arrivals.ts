/**
 * Waiters (for a lock, a semaphore's permit or an election's leadership) that arrive one after
 * another, in coordinators of this process and in contender processes, and the order in which
 * they were granted.
 * @module
 */
import type { Coordinator } from '@lockstep/core';
import { eventually, type Primitive, startContender, ticketsOf } from './children.js';

/** Where the waiters queue, and who they are. */
export interface Arrivals {
  readonly dir: string;
  readonly name: string;
  /** The lock, or the semaphore declaring `permits`. */
  readonly permits?: number;
  /** Campaign in the election `name` instead (each waiter's value is its label). */
  readonly election?: boolean;
  /** Labels in arrival order: those starting with `p` wait in a process of their own. */
  readonly labels: readonly string[];
  /** A new coordinator of this process, for each waiter that is not a process. */
  readonly coordinator: () => Coordinator;
}

/**
 * Queues the waiters one at a time (each ticket in the record before the next waiter comes) and
 * returns a function that resolves, once all were granted and released, with their labels in
 * token order: the order of their grants, wherever the grantee runs.
 */
export async function queueArrivals(arrivals: Arrivals): Promise<() => Promise<string[]>> {
  const { dir, name, permits, labels, election } = arrivals;
  const primitive: Primitive = election ? 'election' : permits === undefined ? 'lock' : 'semaphore';
  const grants: Array<{ label: string; token: bigint }> = [];
  const settled: Array<Promise<unknown>> = [];
  for (const [position, label] of labels.entries()) {
    if (label.startsWith('p')) {
      const contender = startContender({
        dir,
        name,
        ttlMs: 5_000,
        mode: 'cycle',
        cycles: 1,
        permits,
        ...(election ? { electionValue: label } : {}),
      });
      settled.push(
        contender.next('ready').then(async () => {
          contender.send('go');
          const { token } = await contender.next('acquired');
          grants.push({ label, token: BigInt(token!) });
          await contender.next('done');
        }),
      );
    } else {
      settled.push(
        waitIn(arrivals.coordinator(), arrivals, label).then(async ({ token, release }) => {
          grants.push({ label, token });
          await release();
        }),
      );
    }
    await eventually(`ticket ${position + 1}`, () => ticketsOf(dir, name, primitive).length === position + 1);
  }
  return async () => {
    await Promise.all(settled);
    return grants.sort((a, b) => (a.token < b.token ? -1 : 1)).map((g) => g.label);
  };
}

/** One waiter of this process in the queue `arrivals` describes, until granted. */
async function waitIn(
  coord: Coordinator,
  { name, permits, election }: Arrivals,
  label: string,
): Promise<{ token: bigint; release: () => Promise<unknown> }> {
  const waitMs = 20_000;
  if (election) {
    const leadership = await coord.election(name).campaign({ value: label, waitMs });
    return { token: leadership.term, release: () => leadership.resign() };
  }
  const source = permits === undefined ? coord.lock(name) : coord.semaphore(name, { permits });
  const handle = await source.acquire({ waitMs });
  return { token: handle.fencingToken, release: () => handle.release() };
}
