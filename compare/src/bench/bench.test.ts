import { randomBytes } from 'node:crypto';
import type { ConformanceTarget } from '@lockstep/conformance';
import type { Contender } from '@lockstep/conformance/profile';
import { connect } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../profiles.js';
import { measureHandoff } from './handoff.js';
import { lockContenders, semaphoreContenders } from './lockstep.js';
import { measureLatency, measureThroughput } from './measure.js';
import { runBenchmarks } from './run.js';

const box = { warmupMs: 20, durationMs: 150 };

function memoryTarget(): ConformanceTarget {
  const url = `memory://bench-${randomBytes(4).toString('hex')}`;
  return {
    name: 'memory',
    source: 'embedded',
    url,
    adapterModule: '@lockstep/core',
    connect: (u?: string) => connect(u ?? url),
  };
}

describe('bench harness', () => {
  it('times sequential calls and counts concurrent ones', async () => {
    const latency = await measureLatency(() => new Promise((resolve) => setTimeout(resolve, 2)), box);
    expect(latency.unit).toBe('ms');
    expect(latency.p50).toBeGreaterThanOrEqual(1.5);
    expect(latency.p99).toBeGreaterThanOrEqual(latency.p50);

    let inFlight = 0;
    let maxInFlight = 0;
    const rate = await measureThroughput(
      async () => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
      },
      64,
      box,
    );
    expect(maxInFlight).toBe(64);
    // 64 callers × ~5 ms per call: thousands per second, far above one caller's ~200.
    expect(rate.value).toBeGreaterThan(1_000);
    expect(rate.unit).toBe('ops/s');
  });

  it('measures handoff between different contenders, and fairness', async () => {
    const target = memoryTarget();
    const contenders = await lockContenders(target, 4);
    try {
      const figures = await measureHandoff(contenders, { warmupMs: 50, durationMs: 300 });
      expect(figures.grants).toBeGreaterThan(10);
      // memory:// is FIFO: every grant goes to the next waiter.
      expect(figures.fairness.value).toBeGreaterThan(0.9);
      expect(figures.handoff.p50).toBeLessThan(50);
    } finally {
      await Promise.all(contenders.map((c) => c.close()));
    }
  });

  it('counts a handoff only when a waiting contender is granted, never holders trading permits', async () => {
    // Contenders 0 and 1 hold the two permits and take each back at once after releasing it;
    // the other four are let in only after the window. Every grant in the window is a trade
    // between the two holders: there is no handoff to a waiter to time.
    const trading: Contender[] = Array.from({ length: 6 }, (_, i) => ({
      acquire: () =>
        new Promise<void>((resolve) => (i < 2 ? setImmediate(resolve) : setTimeout(resolve, 600))),
      release: async () => {},
      close: async () => {},
    }));
    await expect(measureHandoff(trading, { warmupMs: 50, durationMs: 300 }, 2)).rejects.toThrow(/no handoff/);

    const target = memoryTarget();
    const fifo = await semaphoreContenders(target, 6, 2);
    try {
      const figures = await measureHandoff(fifo, { warmupMs: 50, durationMs: 300 }, 2);
      expect(figures.fairness.value).toBeGreaterThan(0.9);
      expect(figures.handoff.p50).toBeLessThan(50);
    } finally {
      await Promise.all(fifo.map((c) => c.close()));
    }
  });

  it('runs every metric for the memory profile, says why a broken hook has none, never throws', async () => {
    const loaded = await loadProfile('memory');
    if (!loaded.ok) throw new Error(loaded.reason);
    const target = memoryTarget();
    const coordinator = await target.connect();
    const caps = coordinator.capabilities;
    await coordinator.close();
    const profile = {
      ...loaded.profile,
      peers: {
        broken: {
          lockCycle: async () => {
            throw new Error('peer unavailable (test)');
          },
        },
        // A peer with semaphores only: lockstep's own, standing in for a library.
        semaphores: {
          semaphoreHandoff: (_scope: unknown, n: number, permits: number) =>
            semaphoreContenders(target, n, permits),
        },
      },
    };
    const results = await runBenchmarks(profile, target, caps, {
      timeBox: box,
      prefix: 'lockstep-test/bench',
    });
    expect(Object.keys(results.bench).sort()).toEqual(
      [
        'counter.increment',
        'counter.throughput64',
        'floor.counter.increment',
        'floor.lock.cycle',
        'lock.cycle',
        'lock.fairness',
        'lock.handoff',
        'naive.counter.throughput64',
        'semaphore.handoff',
        'semaphore.fairness',
        'rwlock.read.cycle',
        'rwlock.writer-wait',
        'rwlock.read.throughput8',
        'rwlock.write.throughput8',
        'election.resign',
        'election.observe.lag',
      ].sort(),
    );
    expect(Object.keys(results.peers)).toEqual(['semaphores']);
    expect(Object.keys(results.peers.semaphores!).sort()).toEqual([
      'semaphore.fairness',
      'semaphore.handoff',
    ]);
    expect(results.missing).toEqual([
      { metric: 'lock.cycle', library: 'broken', reason: expect.stringContaining('peer unavailable (test)') },
      { metric: 'election.failover', reason: expect.stringContaining('lives in one process') },
    ]);
    // Every latency figure carries its mean (time over operations) beside p50 and p99.
    for (const metric of ['lock.cycle', 'floor.lock.cycle', 'lock.handoff', 'counter.increment']) {
      const figure = results.bench[metric]!;
      expect(figure.unit === 'ms' && figure.mean! > 0, metric).toBe(true);
    }
  });

  it('says why a backend without counters has no counter figures', async () => {
    const loaded = await loadProfile('memory');
    if (!loaded.ok) throw new Error(loaded.reason);
    const target = memoryTarget();
    const coordinator = await target.connect();
    const caps = {
      ...coordinator.capabilities,
      counter: { ...coordinator.capabilities.counter, supported: false },
    };
    await coordinator.close();
    const results = await runBenchmarks(loaded.profile, target, caps, {
      timeBox: box,
      prefix: 'lockstep-test/bench',
    });
    expect(results.bench['counter.increment']).toBeUndefined();
    const reasons = Object.fromEntries(results.missing.map((m) => [m.metric, m.reason]));
    expect(reasons['counter.increment']).toMatch(/no counters/);
    expect(reasons['counter.throughput64']).toMatch(/no counters/);
  });

  it('reports a profile that does not load as a reason', async () => {
    const missing = await loadProfile('memory', '/nonexistent/profile.js');
    expect(missing).toMatchObject({ ok: false, reason: expect.stringContaining('failed to load') });
  });
});

describe('measureLatencyGroup', () => {
  it('times every operation in turns of short slices, each with its own samples', async () => {
    const { measureLatencyGroup } = await import('./measure.js');
    const order: string[] = [];
    const step = (name: string, ms: number) => async () => {
      if (order.at(-1) !== name) order.push(name);
      await new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));
    };
    const [slow, fast, slower] = await measureLatencyGroup(
      [step('slow', 2), step('fast', 0), step('slower', 6)],
      {
        warmupMs: 20,
        durationMs: 200,
      },
    );
    expect(slow!.p50).toBeGreaterThan(fast!.p50);
    expect(slower!.p50).toBeGreaterThan(slow!.p50);
    expect(slow!.p50).toBeGreaterThanOrEqual(1.5);
    // Several turns each, not one long block per operation (fewer on a busy machine).
    const measured = order.slice(-6);
    expect(new Set(measured)).toEqual(new Set(['slow', 'fast', 'slower']));
  });

  it('gives each figure a mean over its timed slices, which shows the slow calls a p50 hides', async () => {
    const { measureLatencyGroup } = await import('./measure.js');
    // Every 10th call takes ≥ 10 ms, the others next to nothing: p50 near 0, mean ≥ 1 ms.
    let calls = 0;
    const bimodal = () =>
      new Promise<void>((resolve) => (++calls % 10 === 0 ? setTimeout(resolve, 10) : setImmediate(resolve)));
    const [figure] = await measureLatencyGroup([bimodal], { warmupMs: 10, durationMs: 400 });
    expect(figure!.p50).toBeLessThan(1);
    expect(figure!.mean).toBeGreaterThanOrEqual(0.9);
    expect(figure!.mean).toBeGreaterThan(figure!.p50 * 3);
    const single = await measureLatency(bimodal, { warmupMs: 10, durationMs: 300 });
    expect(single.mean).toBeGreaterThanOrEqual(0.9);
  });

  it('warms every operation up for warmupOps calls before measuring, within warmupMaxMs', async () => {
    const { measureLatencyGroup } = await import('./measure.js');
    // Each operation is slow (≥ 1 ms timers) for its first 200 calls, then fast: only a warm-up
    // of 200 calls each keeps every slow call out of the figures (50 ms would not).
    const settling = () => {
      let calls = 0;
      return () =>
        new Promise<void>((resolve) => {
          if (++calls <= 200) setTimeout(resolve, 1);
          else setImmediate(resolve);
        });
    };
    const figures = await measureLatencyGroup([settling(), settling()], {
      warmupMs: 10,
      durationMs: 50,
      warmupOps: 200,
      warmupMaxMs: 10_000,
    });
    for (const figure of figures) expect(figure.p99).toBeLessThan(0.9);

    // The cap wins over the call count: a warm-up that cannot reach warmupOps stops at warmupMaxMs.
    const start = performance.now();
    const slow = () => new Promise<void>((resolve) => setTimeout(resolve, 5));
    await measureLatencyGroup([slow], {
      warmupMs: 10,
      durationMs: 50,
      warmupOps: 1_000_000,
      warmupMaxMs: 300,
    });
    const tookMs = performance.now() - start;
    expect(tookMs).toBeGreaterThanOrEqual(300);
    expect(tookMs).toBeLessThan(5_000);
  });
});
