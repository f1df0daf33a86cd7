/**
 * Test helpers: a raw node-zookeeper-client client (to look at the tree behind lockstep's
 * back), request counting, and the driver behind a coordinator.
 * @module
 */
import type { Coordinator } from '@lockstep/core';
import { driverFor, type ZooKeeperDriver } from '../coordinator.js';
import type { ZnodeStat, ZooKeeperClient } from '../raw.js';

export { rawClient, serversOf } from '../testing/raw.js';

/** Promisified reads of a raw client (null/[] for a missing node). */
export function look(client: ZooKeeperClient) {
  return {
    children: (path: string) =>
      new Promise<string[]>((resolve, reject) =>
        client.getChildren(path, (error, children) => {
          if (error && 'getCode' in error && error.getCode() === -101) resolve([]);
          else if (error) reject(error);
          else resolve(children);
        }),
      ),
    stat: (path: string) =>
      new Promise<ZnodeStat | null>((resolve, reject) =>
        client.exists(path, (error, stat) => (error ? reject(error) : resolve(stat))),
      ),
    data: (path: string) =>
      new Promise<string | null>((resolve, reject) =>
        client.getData(path, (error, data) => {
          if (error && 'getCode' in error && error.getCode() === -101) resolve(null);
          else if (error) reject(error);
          else resolve(data.toString());
        }),
      ),
    /** Creates a persistent node (and nothing above it). */
    create: (path: string) =>
      new Promise<void>((resolve, reject) =>
        client.create(path, Buffer.alloc(0), 0, (error) => (error ? reject(error) : resolve())),
      ),
    remove: (path: string) =>
      new Promise<void>((resolve, reject) =>
        client.remove(path, -1, (error) => (error ? reject(error) : resolve())),
      ),
  };
}

/** The driver behind a ZooKeeper coordinator. */
export function driverOf(coordinator: Coordinator): ZooKeeperDriver {
  const driver = driverFor(coordinator);
  if (!driver) throw new Error('not a ZooKeeper coordinator');
  return driver;
}

/** Counts the requests a client sends, by method. */
export function countRequests(client: ZooKeeperClient): Map<string, number> {
  const counts = new Map<string, number>();
  const target = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['create', 'remove', 'exists', 'getData', 'setData', 'getChildren', 'transaction']) {
    const original = target[method]!.bind(client);
    target[method] = (...args: unknown[]) => {
      counts.set(method, (counts.get(method) ?? 0) + 1);
      return original(...args);
    };
  }
  return counts;
}

/** Resolves when `signal` aborts (at once if it has). */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

/** Polls `probe` until it holds (the tree has no event we could wait on from outside). */
export async function until(
  what: string,
  probe: () => boolean | Promise<boolean>,
  withinMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
