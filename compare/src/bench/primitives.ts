/**
 * Benchmarks of the primitives beyond locks, through the public API only:
 *
 * - `rwlock.writer-wait`: readers keep a read hold going without a gap (each holds a few ms and
 *   takes it again at once, staggered); a writer's `write.acquire()` → grant, over and over. What
 *   a writer pays under a continuous stream of readers: bounded only where a waiting writer holds
 *   back later readers.
 * - `rwlock.read.throughput8` / `rwlock.write.throughput8`: 8 clients cycling reads (or writes)
 *   on one name, each grant held 2 ms — readers that really share go about 8 × as fast.
 * - `election.resign`: a leader resigns while a second candidate waits; `resign()` → the waiting
 *   candidate's campaign resolves (the resigned side then stands again).
 * - `election.observe.lag`: the leader proclaims; `proclaim()` → an observer on another client
 *   sees the value.
 * - `election.failover`: a candidate waits behind a leader in another process; SIGKILL → its
 *   campaign resolves (a few runs: each waits out the dead leader's lease).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConformanceTarget, spawnChild } from '@lockstep/conformance';
import type { Coordinator, LeaderInfo, Leadership } from '@lockstep/core';
import { type LatencyFigure, LatencyRecorder, latencyFigure, type RateFigure } from '../stats.js';
import { HANDOFF_HOLD_MS } from './handoff.js';
import { measureThroughput, type TimeBox } from './measure.js';

/** Readers of `rwlock.writer-wait`, and how long each read hold lasts. */
export const WRITER_WAIT_READERS = 4;
const READ_HOLD_MS = 5;
/** Clients of the read-write throughput metrics. */
export const RW_THROUGHPUT_CLIENTS = 8;
/** The longest one acquire or campaign of these benchmarks may wait before the metric fails. */
const WAIT_MS = 60_000;

function benchName(what: string): string {
  return `bench/${what}/${randomBytes(4).toString('hex')}`;
}

/** `n` clients of their own, all closed by `use`'s end. */
async function withClients<T>(
  target: ConformanceTarget,
  n: number,
  use: (clients: Coordinator[]) => Promise<T>,
): Promise<T> {
  const clients: Coordinator[] = [];
  try {
    for (let i = 0; i < n; i++) clients.push(await target.connect());
    return await use(clients);
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
  }
}

/** `rwlock.writer-wait`: see the module comment. */
export function measureWriterWait(target: ConformanceTarget, box: TimeBox): Promise<LatencyFigure> {
  const name = benchName('writer-wait');
  return withClients(target, WRITER_WAIT_READERS + 1, async ([writerClient, ...readerClients]) => {
    let stop = false;
    let failure: unknown;
    const readers = readerClients.map(async (client, i) => {
      const read = client.readWriteLock(name).read;
      await sleep((i * READ_HOLD_MS) / WRITER_WAIT_READERS);
      while (!stop && failure === undefined) {
        const held = await read.acquire({ waitMs: WAIT_MS });
        await sleep(READ_HOLD_MS);
        await held.release();
      }
    });
    const settled = Promise.all(readers.map((reader) => reader.catch((error) => (failure ??= error))));
    try {
      await sleep(box.warmupMs);
      const write = writerClient!.readWriteLock(name).write;
      const recorder = new LatencyRecorder();
      const end = performance.now() + box.durationMs;
      do {
        const held = await recorder.time(() => write.acquire({ waitMs: WAIT_MS }));
        await sleep(1);
        await held.release();
        // Long enough for the readers to be holding again before the next write.
        await sleep(2 * READ_HOLD_MS);
      } while (performance.now() < end && failure === undefined);
      if (failure !== undefined) throw failure;
      return recorder.figure();
    } finally {
      stop = true;
      await settled;
    }
  });
}

/** `rwlock.read.throughput8` or `rwlock.write.throughput8`: see the module comment. */
export function measureReadWriteThroughput(
  target: ConformanceTarget,
  mode: 'read' | 'write',
  box: TimeBox,
): Promise<RateFigure> {
  const name = benchName(`rw-${mode}-throughput`);
  return withClients(target, RW_THROUGHPUT_CLIENTS, async (clients) => {
    const locks = clients.map((client) => client.readWriteLock(name)[mode]);
    let turn = 0;
    return measureThroughput(
      async () => {
        const held = await locks[turn++ % locks.length]!.acquire({ waitMs: WAIT_MS });
        await sleep(HANDOFF_HOLD_MS);
        await held.release();
      },
      RW_THROUGHPUT_CLIENTS,
      box,
    );
  });
}

/** What {@link measureElectionHandoff} measured. */
export interface ElectionHandoffFigures {
  readonly resign: LatencyFigure;
  readonly observeLag: LatencyFigure;
}

/** `election.resign` and `election.observe.lag`: see the module comment. */
export function measureElectionHandoff(
  target: ConformanceTarget,
  box: TimeBox,
): Promise<ElectionHandoffFigures> {
  const name = benchName('election');
  return withClients(target, 3, async ([a, b, watcher]) => {
    const stop = new AbortController();
    const seen: Array<{ value: string | null; at: number }> = [];
    let wake: (() => void) | undefined;
    const observing = (async () => {
      for await (const state of watcher!.election(name).observe({ signal: stop.signal })) {
        seen.push({ value: (state as LeaderInfo | null)?.value ?? null, at: performance.now() });
        wake?.();
      }
    })().catch(() => {});
    const sawValue = async (value: string): Promise<number> => {
      const deadline = performance.now() + WAIT_MS;
      for (;;) {
        const hit = seen.find((entry) => entry.value === value);
        if (hit) return hit.at;
        if (performance.now() > deadline) throw new Error(`the observer never saw "${value}"`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
    };
    try {
      const elections = [a!, b!].map((client) => client.election(name));
      let leader: Leadership = await elections[0]!.campaign({ value: 'side-0', waitMs: WAIT_MS });
      let side = 0;
      const resign = new LatencyRecorder();
      const warmupEnd = performance.now() + box.warmupMs;
      const resignEnd = warmupEnd + box.durationMs / 2;
      do {
        const other = 1 - side;
        const waiting = elections[other]!.campaign({ value: `side-${other}`, waitMs: WAIT_MS });
        // The other candidate is standing before the leader resigns.
        await sleep(10);
        const resignedAt = performance.now();
        await leader.resign();
        leader = await waiting;
        if (resignedAt >= warmupEnd) resign.record(performance.now() - resignedAt);
        side = other;
      } while (performance.now() < resignEnd);
      const lag = new LatencyRecorder();
      const lagEnd = performance.now() + box.durationMs / 2;
      let round = 0;
      do {
        const value = `proclaimed-${round++}`;
        const proclaimedAt = performance.now();
        await leader.proclaim(value);
        lag.record((await sawValue(value)) - proclaimedAt);
      } while (performance.now() < lagEnd);
      await leader.resign();
      return { resign: resign.figure(), observeLag: lag.figure() };
    } finally {
      stop.abort();
      await observing;
    }
  });
}

/** `election.failover`: `runs` times, a leader process SIGKILLed → the waiting candidate leads. */
export function measureElectionFailover(
  target: ConformanceTarget,
  ttlMs: number,
  runs: number,
): Promise<LatencyFigure> {
  return withClients(target, 1, async ([client]) => {
    const samples: number[] = [];
    for (let run = 0; run < runs; run++) {
      const name = benchName('failover');
      const child = spawnChild({
        mode: 'hold',
        url: target.url,
        adapterModule: target.adapterModule,
        names: [name],
        ttlMs,
        electionValue: 'dying',
      });
      try {
        await child.next('acquired', 30_000);
        const waiting = client!
          .election(name, { ttlMs })
          .campaign({ value: 'next', waitMs: 4 * ttlMs + WAIT_MS });
        waiting.catch(() => {});
        await sleep(50);
        const killedAt = performance.now();
        child.signal('SIGKILL');
        const next = await waiting;
        samples.push(performance.now() - killedAt);
        await next.resign();
      } finally {
        await child.dispose();
      }
    }
    return latencyFigure(samples);
  });
}
