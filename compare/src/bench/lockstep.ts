/**
 * The lockstep side of the benchmarks: subjects built from a {@link ConformanceTarget}
 * through the public API only, exactly as an application would use it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ConformanceTarget } from '@lockstep/conformance';
import type { BenchSubject, Contender } from '@lockstep/conformance/profile';
import type { Coordinator, LockHandle } from '@lockstep/core';

function benchName(what: string): string {
  return `bench/${what}/${randomBytes(4).toString('hex')}`;
}

/** `lock.cycle`: one client, `acquire()` + `release()` on a free name, in sequence. */
export async function lockCycleSubject(target: ConformanceTarget): Promise<BenchSubject> {
  const coordinator = await target.connect();
  const lock = coordinator.lock(benchName('cycle'));
  return {
    op: async () => {
      const handle = await lock.acquire();
      await handle.release();
    },
    teardown: () => coordinator.close(),
  };
}

/** `rwlock.read.cycle`: one client, read `acquire()` + `release()` on a free name, in sequence. */
export async function readCycleSubject(target: ConformanceTarget): Promise<BenchSubject> {
  const coordinator = await target.connect();
  const read = coordinator.readWriteLock(benchName('read-cycle')).read;
  return {
    op: async () => {
      const handle = await read.acquire();
      await handle.release();
    },
    teardown: () => coordinator.close(),
  };
}

/** `counter.increment` (sequential) and `counter.throughput64` (concurrent): `increment()` on one counter. */
export async function counterIncrementSubject(target: ConformanceTarget): Promise<BenchSubject> {
  const coordinator = await target.connect();
  const counter = coordinator.counter(benchName('counter'));
  return {
    op: async () => {
      await counter.increment();
    },
    teardown: () => coordinator.close(),
  };
}

/** `lock.handoff` contenders: `n` clients, each from its own `target.connect()`. */
export function lockContenders(target: ConformanceTarget, n: number): Promise<Contender[]> {
  return contenders(target, n, benchName('handoff'), (coordinator, name) => coordinator.lock(name));
}

/** `semaphore.handoff` contenders: `n` clients on one semaphore of `permits`. */
export function semaphoreContenders(
  target: ConformanceTarget,
  n: number,
  permits: number,
): Promise<Contender[]> {
  return contenders(target, n, benchName('semaphore-handoff'), (coordinator, name) =>
    coordinator.semaphore(name, { permits }),
  );
}

/** `n` clients, each from its own `target.connect()`, taking turns on what `open` gives. */
async function contenders(
  target: ConformanceTarget,
  n: number,
  name: string,
  open: (coordinator: Coordinator, name: string) => { acquire(): Promise<LockHandle> },
): Promise<Contender[]> {
  const coordinators: Coordinator[] = [];
  try {
    for (let i = 0; i < n; i++) coordinators.push(await target.connect());
  } catch (error) {
    await Promise.allSettled(coordinators.map((c) => c.close()));
    throw error;
  }
  return coordinators.map((coordinator) => {
    const source = open(coordinator, name);
    let held: LockHandle | undefined;
    return {
      acquire: async () => {
        held = await source.acquire();
      },
      release: async () => {
        const handle = held;
        held = undefined;
        await handle?.release();
      },
      close: () => coordinator.close(),
    };
  });
}
