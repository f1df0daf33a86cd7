/**
 * Runs the SPEC's benchmark metrics for one backend — lockstep, its hand-written floors and
 * naive baseline, and its peer libraries — in one process. Latencies that are compared as
 * ratios (lockstep's `lock.cycle` against its floor and every peer's, `counter.increment`
 * against its floor) are measured interleaved, in turns of short slices, so the ratios hold
 * on a noisy machine. Benchmarks report; they never fail the run: a metric
 * that cannot be measured is left out and the reason noted.
 * @module
 */
import type { Capabilities } from '@lockstep/core';
import type { BackendProfile, BenchHook, BenchSubject, Contender, PeerBench } from '../backends/profile.js';
import { type Figure, headlineValue, type LatencyFigure } from '../stats.js';
import { describeError } from '../suite/assert.js';
import type { ConformanceTarget } from '../target.js';
import { HANDOFF_CONTENDERS, measureHandoff } from './handoff.js';
import { counterIncrementSubject, lockContenders, lockCycleSubject } from './lockstep.js';
import {
  DEFAULT_TIME_BOX,
  measureLatency,
  measureLatencyGroup,
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

/** A metric measured on one subject with `measure`, or skipped with `why` when there is no subject. */
function subjectRecipe(
  metric: string,
  open: (() => Promise<BenchSubject>) | undefined,
  why: string,
  measure: (op: () => Promise<void>) => Promise<Figure>,
): Recipe {
  if (!open) return { skip: why };
  return { metrics: [metric], measure: async () => [await withSubject(open, measure)] };
}

function latencyRecipe(
  metric: string,
  open: (() => Promise<BenchSubject>) | undefined,
  box: TimeBox,
  why: string,
): Recipe {
  return subjectRecipe(metric, open, why, (op) => measureLatency(op, box));
}

function throughputRecipe(
  metric: string,
  open: (() => Promise<BenchSubject>) | undefined,
  box: TimeBox,
  why: string,
): Recipe {
  return subjectRecipe(metric, open, why, (op) => measureThroughput(op, THROUGHPUT_CALLERS, box));
}

/**
 * Opens the subjects that open (a failure is noted and that subject left out), times the ops
 * of the opened ones together with `measure`, and always tears every opened one down.
 * Returns a figure per subject: `undefined` for the ones that did not open.
 */
async function withSubjectGroup(
  openers: ReadonlyArray<{ readonly label: string; readonly open: () => Promise<BenchSubject> }>,
  measure: (ops: ReadonlyArray<() => Promise<void>>) => Promise<LatencyFigure[]>,
  notes: string[],
  log: (line: string) => void,
): Promise<Array<LatencyFigure | undefined>> {
  const opened: Array<{ index: number; subject: BenchSubject }> = [];
  try {
    for (const [index, { label, open }] of openers.entries()) {
      let subject: BenchSubject | undefined;
      try {
        subject = await open();
        await subject.setup?.();
        opened.push({ index, subject });
      } catch (error) {
        if (subject) await bounded('teardown', () => subject!.teardown()).catch(() => {});
        const note = `${label}: not measured: ${describeError(error)}`;
        notes.push(note);
        log(note);
      }
    }
    const figures: Array<LatencyFigure | undefined> = openers.map(() => undefined);
    if (opened.length === 0) return figures;
    const measured = await measure(
      opened.map(
        ({ subject }) =>
          () =>
            subject.op(),
      ),
    );
    opened.forEach(({ index }, i) => {
      figures[index] = measured[i];
    });
    return figures;
  } finally {
    for (const { subject } of opened) await bounded('teardown', () => subject.teardown()).catch(() => {});
  }
}

/** One latency metric of an interleaved group, and where its figure goes. */
interface GroupMember {
  readonly label: string;
  readonly metric: string;
  readonly figures: Figures;
  readonly open: () => Promise<BenchSubject>;
}

/** Measures `members` interleaved (see {@link measureLatencyGroup}) and files their figures. */
async function runLatencyGroup(
  members: readonly GroupMember[],
  box: TimeBox,
  notes: string[],
  log: (line: string) => void,
): Promise<void> {
  const labelled = members.map((m) => ({ label: `${m.label} ${m.metric}`, open: m.open }));
  try {
    const figures = await withSubjectGroup(labelled, (ops) => measureLatencyGroup(ops, box), notes, log);
    members.forEach((member, i) => {
      const figure = figures[i];
      if (figure === undefined) return;
      member.figures[member.metric] = figure;
      log(`${member.label} ${member.metric}: ${describeFigure(figure)}`);
    });
  } catch (error) {
    const note = `${labelled.map((l) => l.label).join(' + ')}: not measured: ${describeError(error)}`;
    notes.push(note);
    log(note);
  }
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

  const label = `bench ${profile.name}`;
  const peerEntries = Object.entries(profile.peers ?? {}) as Array<[string, PeerBench]>;
  const peers: Record<string, Figures> = Object.fromEntries(peerEntries.map(([library]) => [library, {}]));

  // lock.cycle: lockstep, its floor and every peer, interleaved.
  const floorCycle = hookOpener(profile.floor?.lockCycle, url);
  await runLatencyGroup(
    [
      { label, metric: 'lock.cycle', figures: bench, open: () => lockCycleSubject(target) },
      ...(floorCycle ? [{ label, metric: 'floor.lock.cycle', figures: bench, open: floorCycle }] : []),
      ...peerEntries.flatMap(([library, peer]) => {
        const open = hookOpener(peer.lockCycle, url);
        return open
          ? [{ label: `peer ${library}`, metric: 'lock.cycle', figures: peers[library]!, open }]
          : [];
      }),
    ],
    box,
    notes,
    log,
  );
  await runRecipes(
    [handoffRecipe(() => lockContenders(target, HANDOFF_CONTENDERS), box, '')],
    label,
    bench,
    notes,
    log,
  );
  // counter.increment and its floor, interleaved.
  const floorIncrement = hookOpener(profile.floor?.counterIncrement, url);
  if (counters) {
    await runLatencyGroup(
      [
        { label, metric: 'counter.increment', figures: bench, open: () => counterIncrementSubject(target) },
        ...(floorIncrement
          ? [{ label, metric: 'floor.counter.increment', figures: bench, open: floorIncrement }]
          : []),
      ],
      box,
      notes,
      log,
    );
  } else if (floorIncrement) {
    await runRecipes(
      [latencyRecipe('floor.counter.increment', floorIncrement, box, '')],
      label,
      bench,
      notes,
      log,
    );
  }
  await runRecipes(
    [
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
    label,
    bench,
    notes,
    log,
  );

  for (const [library, peer] of peerEntries) {
    const figures = peers[library]!;
    await runRecipes(
      [
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
    if (Object.keys(figures).length === 0) delete peers[library];
  }
  return { bench, peers, notes };
}
