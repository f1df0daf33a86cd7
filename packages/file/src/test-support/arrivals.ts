/**
 * Waiters that arrive one after another, in coordinators of this process and in contender
 * processes, and the order in which they were granted.
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
  const { dir, name, permits, labels } = arrivals;
  const primitive: Primitive = permits === undefined ? 'lock' : 'semaphore';
  const grants: Array<{ label: string; token: bigint }> = [];
  const settled: Array<Promise<unknown>> = [];
  for (const [position, label] of labels.entries()) {
    if (label.startsWith('p')) {
      const contender = startContender({ dir, name, ttlMs: 5_000, mode: 'cycle', cycles: 1, permits });
      settled.push(
        contender.next('ready').then(async () => {
          contender.send('go');
          const { token } = await contender.next('acquired');
          grants.push({ label, token: BigInt(token!) });
          await contender.next('done');
        }),
      );
    } else {
      const coord = arrivals.coordinator();
      const source = permits === undefined ? coord.lock(name) : coord.semaphore(name, { permits });
      settled.push(
        source.acquire({ waitMs: 20_000 }).then(async (handle) => {
          grants.push({ label, token: handle.fencingToken });
          await handle.release();
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
