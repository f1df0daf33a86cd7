/**
 * Runs the SPEC's benchmark metrics for one backend — lockstep, its hand-written floors and
 * naive baseline, and its peer libraries — in one process, one after another, so ratios
 * between them hold on a noisy machine. Benchmarks report; they never fail the run: a metric
 * that cannot be measured is left out and the reason noted.
 * @module
 */
import type { Capabilities } from '@lockstep/core';
import type { BackendProfile, BenchHook, BenchSubject, Contender, PeerBench } from '../backends/profile.js';
import { type Figure, headlineValue, type LatencyFigure, type RateFigure } from '../stats.js';
import type { ConformanceTarget } from '../target.js';
import { describeError } from '../tests/assert.js';
import { HANDOFF_CONTENDERS, measureHandoff } from './handoff.js';
import { counterIncrementSubject, lockContenders, lockCycleSubject } from './lockstep.js';
import {
  DEFAULT_TIME_BOX,
  measureLatency,
  measureLatencyPair,
  measureThroughput,
  type TimeBox,
} from './measure.js';

/** Concurrent callers of the throughput metrics. */
export const THROUGHPUT_CALLERS = 64;
/** Longest a subject's teardown or a contender's close may take. */
const TEARDOWN_MS = 10_000;

/** Figures by metric name. */
export type Figures = Record<string, Figure>;

/** What {@link runBenchmarks} measured. */
export interface BenchResults {
  readonly bench: Figures;
  readonly peers: Record<string, Figures>;
  /** Metrics that could not be measured, with the reason (`"peer redlock4 lock.cycle: …"`). */
  readonly notes: string[];
}

/** Options of {@link runBenchmarks}. */
export interface RunBenchmarksOptions {
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Time box per metric (handoff gets a little longer). Default 250 ms warm-up + 1.5 s. */
  readonly timeBox?: TimeBox;
}

async function bounded(what: string, work: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work(),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} did not finish within ${TEARDOWN_MS} ms`)),
        TEARDOWN_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Opens a subject, times it with `measure`, and always tears it down. */
async function withSubject<F>(
  open: () => Promise<BenchSubject>,
  measure: (op: () => Promise<void>) => Promise<F>,
): Promise<F> {
  const subject = await open();
  try {
    await subject.setup?.();
    return await measure(() => subject.op());
  } finally {
    await bounded('teardown', () => subject.teardown());
  }
}

/** Opens contenders, measures handoff and fairness, and always closes them. */
async function withContenders(open: () => Promise<Contender[]>, box: TimeBox) {
  const contenders = await open();
  try {
    return await measureHandoff(contenders, { ...box, durationMs: Math.round(box.durationMs * 1.3) });
  } finally {
    await Promise.allSettled(contenders.map((c) => bounded('close', () => c.close())));
  }
}

function describeFigure(figure: Figure): string {
  if (figure.unit === 'ms') return `p50 ${figure.p50} ms, p99 ${figure.p99} ms`;
  return `${headlineValue(figure)} ${figure.unit}`;
}

/** One metric's recipe: how to measure it, or why it does not apply. */
type Recipe =
  | { readonly metrics: readonly string[]; readonly measure: () => Promise<Figure[]> }
  | { readonly skip: string };

function latencyRecipe(
  metric: string,
  open: (() => Promise<BenchSubject>) | undefined,
  box: TimeBox,
  why: string,
): Recipe {
  if (!open) return { skip: why };
  return {
    metrics: [metric],
    measure: async () => [await withSubject<LatencyFigure>(open, (op) => measureLatency(op, box))],
  };
}

/**
 * A metric and its floor, measured interleaved (see {@link measureLatencyPair}) when both
 * exist, so their ratio holds on a noisy machine; alone otherwise.
 */
function pairedLatencyRecipe(
  metric: string,
  open: (() => Promise<BenchSubject>) | undefined,
  floorMetric: string,
  openFloor: (() => Promise<BenchSubject>) | undefined,
  box: TimeBox,
  why: { metric: string; floor: string },
): Recipe[] {
  if (!open || !openFloor) {
    return [
      latencyRecipe(metric, open, box, why.metric),
      latencyRecipe(floorMetric, openFloor, box, why.floor),
    ];
  }
  return [
    {
      metrics: [metric, floorMetric],
      measure: () =>
        withSubject(open, (op) =>
          withSubject(openFloor, (floorOp) => measureLatencyPair(op, floorOp, box).then((pair) => [...pair])),
        ),
    },
  ];
}

function throughputRecipe(
  metric: string,
  open: (() => Promise<BenchSubject>) | undefined,
  box: TimeBox,
  why: string,
): Recipe {
  if (!open) return { skip: why };
  return {
    metrics: [metric],
    measure: async () => [
      await withSubject<RateFigure>(open, (op) => measureThroughput(op, THROUGHPUT_CALLERS, box)),
    ],
  };
}

function handoffRecipe(open: (() => Promise<Contender[]>) | undefined, box: TimeBox, why: string): Recipe {
  if (!open) return { skip: why };
  return {
    metrics: ['lock.handoff', 'lock.fairness'],
    measure: async () => {
      const figures = await withContenders(open, box);
      return [figures.handoff, figures.fairness];
    },
  };
}

async function runRecipes(
  recipes: readonly Recipe[],
  label: string,
  figures: Figures,
  notes: string[],
  log: (line: string) => void,
) {
  for (const recipe of recipes) {
    if ('skip' in recipe) continue;
    try {
      const measured = await recipe.measure();
      recipe.metrics.forEach((metric, i) => {
        figures[metric] = measured[i]!;
        log(`${label} ${metric}: ${describeFigure(measured[i]!)}`);
      });
    } catch (error) {
      const note = `${label} ${recipe.metrics.join(' + ')}: not measured: ${describeError(error)}`;
      notes.push(note);
      log(note);
    }
  }
}

function hookOpener(hook: BenchHook | undefined, url: string): (() => Promise<BenchSubject>) | undefined {
  return hook ? () => hook(url) : undefined;
}

/**
 * Measures every SPEC metric lockstep, the profile's floors and its peers can give for
 * `target`. Counter metrics are left out for backends without counters.
 */
export async function runBenchmarks(
  profile: BackendProfile,
  target: ConformanceTarget,
  capabilities: Capabilities,
  options: RunBenchmarksOptions = {},
): Promise<BenchResults> {
  const box = options.timeBox ?? DEFAULT_TIME_BOX;
  const log = options.log ?? (() => {});
  const counters = capabilities.counter.supported;
  const noCounters = 'no counters on this backend';
  const bench: Figures = {};
  const notes: string[] = [];
  const url = target.url;

  await runRecipes(
    [
      ...pairedLatencyRecipe(
        'lock.cycle',
        () => lockCycleSubject(target),
        'floor.lock.cycle',
        hookOpener(profile.floor?.lockCycle, url),
        box,
        { metric: '', floor: 'no floor' },
      ),
      handoffRecipe(() => lockContenders(target, HANDOFF_CONTENDERS), box, ''),
      ...pairedLatencyRecipe(
        'counter.increment',
        counters ? () => counterIncrementSubject(target) : undefined,
        'floor.counter.increment',
        hookOpener(profile.floor?.counterIncrement, url),
        box,
        { metric: noCounters, floor: 'no floor' },
      ),
      throughputRecipe(
        'counter.throughput64',
        counters ? () => counterIncrementSubject(target) : undefined,
        box,
        noCounters,
      ),
      throughputRecipe(
        'naive.counter.throughput64',
        hookOpener(profile.naive?.counterThroughput64, url),
        box,
        'no naive op',
      ),
    ],
    `bench ${profile.name}`,
    bench,
    notes,
    log,
  );

  const peers: Record<string, Figures> = {};
  for (const [library, peer] of Object.entries(profile.peers ?? {}) as Array<[string, PeerBench]>) {
    const figures: Figures = {};
    await runRecipes(
      [
        latencyRecipe('lock.cycle', hookOpener(peer.lockCycle, url), box, 'n/a'),
        handoffRecipe(
          peer.lockHandoff ? () => peer.lockHandoff!(url, HANDOFF_CONTENDERS) : undefined,
          box,
          'n/a',
        ),
        latencyRecipe('counter.increment', hookOpener(peer.counterIncrement, url), box, 'n/a'),
        throughputRecipe('counter.throughput64', hookOpener(peer.counterThroughput64, url), box, 'n/a'),
      ],
      `peer ${library}`,
      figures,
      notes,
      log,
    );
    if (Object.keys(figures).length > 0) peers[library] = figures;
  }
  return { bench, peers, notes };
}
