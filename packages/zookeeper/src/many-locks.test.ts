/**
 * Load on one session: many held locks cost O(1) requests per period (the session's keep-alive,
 * none at all while other requests are answered), and many waiters on one lock are granted in
 * turn without listeners piling up or watches left behind. The figures are printed; the
 * assertions are safety bounds that per-lock renewal (one `getData` per lock every ttl/3)
 * fails by orders of magnitude.
 */
import type { Coordinator, LockHandle } from '@lockstep/core';
import { connect } from '@lockstep/core';
import { encodeName } from '@lockstep/core/driver';
import { heapAfterGc } from '@lockstep/testing';
import { useServer } from '@lockstep/testing/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import './index.js';
import type { ZooKeeperClient } from './raw.js';
import { countRequests, driverOf, look, rawClient, until } from './test-support/raw.js';

const zk = useServer('zookeeper');
/** ZooKeeper's minimum TTL is 1 s; the load target is 2 s or the minimum, whichever is larger. */
const TTL_MS = 2_000;
const LOCKS = 10_000;
const WAITERS = 1_000;
const IN_FLIGHT = 200;

const opened: Coordinator[] = [];
const rawClients: ZooKeeperClient[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((c) => c.close()));
  for (const client of rawClients.splice(0)) client.close();
});

async function coordinator(prefix: string): Promise<Coordinator> {
  const c = await connect(`${zk.url}?sessionTimeoutMs=${TTL_MS}&prefix=${prefix}`);
  opened.push(c);
  return c;
}

/** Runs `task` for every index, `IN_FLIGHT` at a time. */
async function forEach<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return results;
}

const clientOf = (c: Coordinator) => driverOf(c).source.current!.client;
const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
const fresh = (what: string) => `${what}-${Math.random().toString(36).slice(2, 8)}`;
/** Whether node-zookeeper-client still keeps any watcher (data, existence or child). */
const watching = (client: ZooKeeperClient) =>
  !(
    client as unknown as { connectionManager: { watcherManager: { isEmpty(): boolean } } }
  ).connectionManager.watcherManager.isEmpty();

describe('many locks on one session', () => {
  it(`keeps ${LOCKS} locks held for 2 × their ${TTL_MS} ms TTL with O(1) requests per period`, async () => {
    const prefix = fresh('many');
    const holder = await coordinator(prefix);
    const other = await coordinator(prefix);
    const requests = countRequests(clientOf(holder));
    const heapBefore = heapAfterGc();

    const acquireStart = performance.now();
    const handles: LockHandle[] = await forEach(LOCKS, (i) =>
      holder.lock(`job-${i}`, { ttlMs: TTL_MS }).acquire({ waitMs: 30_000 }),
    );
    const acquiredIn = performance.now() - acquireStart;
    const heapPerLock = (heapAfterGc() - heapBefore) / LOCKS;

    requests.clear();
    const cpuBefore = process.cpuUsage();
    const holdStart = performance.now();
    // The first TTL: the locks' deletion watches are set, once each, a second after the grants.
    await new Promise((r) => setTimeout(r, TTL_MS));
    const firstTtl = new Map(requests);
    requests.clear();
    // The second TTL: nothing per lock any more.
    await new Promise((r) => setTimeout(r, TTL_MS));
    const holdMs = performance.now() - holdStart;
    const cpu = process.cpuUsage(cpuBefore);
    const steady = total(requests);

    const taken = await forEach(LOCKS, (i) => other.lock(`job-${i}`, { ttlMs: TTL_MS }).tryAcquire());
    const cpuShare = (cpu.user + cpu.system) / 1000 / holdMs;
    console.log(
      `${LOCKS} locks, ttl ${TTL_MS} ms: acquired at ${Math.round(LOCKS / (acquiredIn / 1000))}/s; held ` +
        `${Math.round(holdMs)} ms; first TTL ${total(firstTtl)} requests (${firstTtl.get('getData') ?? 0} ` +
        `deletion watches, set once), second TTL ${steady} (${(steady / (TTL_MS / 1000)).toFixed(1)}/s); heap ` +
        `${Math.round(heapPerLock)} B per held lock; CPU ${(cpuShare * 100).toFixed(1)} % of one core while held`,
    );
    expect(taken.filter((h) => h !== null)).toHaveLength(0);
    expect(handles.filter((h) => h.signal.aborted)).toHaveLength(0);
    // Per-lock renewal would be 3 × LOCKS requests per TTL.
    expect(total(firstTtl) - (firstTtl.get('getData') ?? 0)).toBeLessThan(20);
    expect(firstTtl.get('getData') ?? 0).toBeLessThanOrEqual(LOCKS);
    expect(steady).toBeLessThan(20);
    await forEach(LOCKS, (i) => handles[i]!.release());
  }, 90_000);
});

describe('many waiters on one lock', () => {
  for (const coordinators of [1, 4]) {
    it(`grants ${WAITERS} waiters in ${coordinators} coordinator(s) in turn, leaving nothing watching`, async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on('warning', onWarning);
      try {
        const prefix = fresh('waiters');
        const owners = await Promise.all(Array.from({ length: coordinators }, () => coordinator(prefix)));
        const client = await rawClient(zk.url);
        rawClients.push(client);
        const tree = look(client);
        const queue = `/${encodeName(prefix)}/locks/${encodeName('hot')}`;
        const first = await owners[0]!.lock('hot').acquire();
        const heapBefore = heapAfterGc();

        const releasedAt: number[] = [];
        const handoffs: number[] = [];
        const tokens: bigint[] = [];
        const done = Array.from({ length: WAITERS }, (_, i) =>
          owners[i % coordinators]!.lock('hot')
            .acquire()
            .then(async (held) => {
              const at = performance.now();
              if (releasedAt.length > 0) handoffs.push(at - releasedAt.at(-1)!);
              tokens.push(held.fencingToken);
              releasedAt.push(performance.now());
              await held.release();
            }),
        );
        await until(
          'every waiter queued',
          async () => (await tree.children(queue)).length === WAITERS + 1,
          60_000,
        );
        const heapPerWaiter = (heapAfterGc() - heapBefore) / WAITERS;

        const start = performance.now();
        releasedAt.push(performance.now());
        await first.release();
        await Promise.all(done);
        const grantsPerSecond = WAITERS / ((performance.now() - start) / 1000);

        handoffs.sort((a, b) => a - b);
        const p = (q: number) => handoffs[Math.min(handoffs.length - 1, Math.floor(handoffs.length * q))]!;
        console.log(
          `${WAITERS} waiters over ${coordinators} coordinator(s): ${Math.round(grantsPerSecond)} grants/s, ` +
            `handoff p50 ${p(0.5).toFixed(2)} ms, p99 ${p(0.99).toFixed(2)} ms; heap ${Math.round(heapPerWaiter)} B per waiter`,
        );
        expect(tokens).toHaveLength(WAITERS);
        for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
        // Every watch fired (a waiter watched only its predecessor, which is gone now).
        await until('no watcher left', () => owners.every((c) => !watching(clientOf(c))), 10_000);
        expect(await tree.children(queue)).toEqual([]);
        expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
      } finally {
        process.off('warning', onWarning);
      }
    }, 90_000);
  }
});
