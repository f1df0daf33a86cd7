/**
 * Runs the benchmark metrics for one backend — lockstep, its hand-written floors and naive
 * baseline, and its peer libraries — in one process. Latencies that are compared as ratios
 * (lockstep's `lock.cycle` against its floor and every peer's, `counter.increment` against
 * its floor) are measured interleaved, in turns of short slices, so the ratios hold on a
 * noisy machine. Benchmarks report; they never fail the run: a metric that cannot be
 * measured is left out and the reason recorded.
 * @module
 */
import { type ConformanceTarget, isInProcess, leaseTtlFor } from '@lockstep/conformance';
import { describeError } from '@lockstep/conformance/interop';
import type {
  BackendProfile,
  BenchHook,
  BenchScope,
  BenchSubject,
  Contender,
  PeerBench,
} from '@lockstep/conformance/profile';
import type { Capabilities } from '@lockstep/core';
import type { MissingMetric } from '../report/types.js';
import { type Figure, headlineValue, type LatencyFigure } from '../stats.js';
import { HANDOFF_CONTENDERS, measureHandoff } from './handoff.js';
import {
  counterIncrementSubject,
  lockContenders,
  lockCycleSubject,
  readCycleSubject,
  semaphoreContenders,
} from './lockstep.js';
import {
  DEFAULT_TIME_BOX,
  measureLatency,
  measureLatencyGroup,
  measureThroughput,
  type TimeBox,
} from './measure.js';
import {
  measureElectionFailover,
  measureElectionHandoff,
  measureReadWriteThroughput,
  measureWriterWait,
} from './primitives.js';

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
  /** Every metric that could not be measured, with the reason. */
  readonly missing: MissingMetric[];
}

/** Options of {@link runBenchmarks}. */
export interface RunBenchmarksOptions {
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Time box per metric (handoff gets a little longer). Default 250 ms warm-up + 1.5 s. */
  readonly timeBox?: TimeBox;
  /** The run's prefix: every name a floor or a peer writes starts with it. */
  readonly prefix: string;
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
async function withContenders(open: () => Promise<Contender[]>, box: TimeBox, permits = 1) {
  const contenders = await open();
  try {
    return await measureHandoff(
      contenders,
      { ...box, durationMs: Math.round(box.durationMs * 1.3) },
      permits,
    );
  } finally {
    await Promise.allSettled(contenders.map((c) => bounded('close', () => c.close())));
  }
}

function describeFigure(figure: Figure): string {
  if (figure.unit === 'ms') return `p50 ${figure.p50} ms, mean ${figure.mean} ms, p99 ${figure.p99} ms`;
  return `${headlineValue(figure)} ${figure.unit}`;
}

/** Where measured figures and the reasons for missing ones go, for one side (lockstep or a peer). */
interface Sink {
  readonly label: string;
  readonly figures: Figures;
  readonly library?: string;
}

/** One recipe: how to measure some metrics, or why they do not apply. */
type Recipe =
  | { readonly metrics: readonly string[]; readonly measure: () => Promise<Figure[]> }
  | { readonly metrics: readonly string[]; readonly skip: string };

/** The bench's working state for one backend. */
class BenchRun {
  readonly missing: MissingMetric[] = [];

  constructor(
    readonly box: TimeBox,
    readonly log: (line: string) => void,
  ) {}

  /** Records that `metric` of `sink` was not measured. */
  miss(sink: Sink, metric: string, reason: string): void {
    this.missing.push({ metric, ...(sink.library === undefined ? {} : { library: sink.library }), reason });
    this.log(`${sink.label} ${metric}: not measured: ${reason}`);
  }

  file(sink: Sink, metric: string, figure: Figure): void {
    sink.figures[metric] = figure;
    this.log(`${sink.label} ${metric}: ${describeFigure(figure)}`);
  }

  async recipes(sink: Sink, recipes: readonly Recipe[]): Promise<void> {
    for (const recipe of recipes) {
      if ('skip' in recipe) {
        for (const metric of recipe.metrics) this.miss(sink, metric, recipe.skip);
        continue;
      }
      try {
        const measured = await recipe.measure();
        for (const [i, metric] of recipe.metrics.entries()) this.file(sink, metric, measured[i]!);
      } catch (error) {
        for (const metric of recipe.metrics) this.miss(sink, metric, describeError(error));
      }
    }
  }

  /**
   * Measures `members` interleaved (see {@link measureLatencyGroup}) and files their figures.
   * A member whose subject does not open is recorded as missing and left out.
   */
  async latencyGroup(members: readonly GroupMember[]): Promise<void> {
    const opened: Array<{ member: GroupMember; subject: BenchSubject }> = [];
    try {
      for (const member of members) {
        let subject: BenchSubject | undefined;
        try {
          subject = await member.open();
          await subject.setup?.();
          opened.push({ member, subject });
        } catch (error) {
          if (subject) await bounded('teardown', () => subject!.teardown()).catch(() => {});
          this.miss(member.sink, member.metric, describeError(error));
        }
      }
      if (opened.length === 0) return;
      let figures: LatencyFigure[];
      try {
        figures = await measureLatencyGroup(
          opened.map(
            ({ subject }) =>
              () =>
                subject.op(),
          ),
          this.box,
        );
      } catch (error) {
        for (const { member } of opened) this.miss(member.sink, member.metric, describeError(error));
        return;
      }
      for (const [i, { member }] of opened.entries()) this.file(member.sink, member.metric, figures[i]!);
    } finally {
      for (const { subject } of opened) await bounded('teardown', () => subject.teardown()).catch(() => {});
    }
  }
}

/** One latency metric of an interleaved group, and where its figure goes. */
interface GroupMember {
  readonly sink: Sink;
  readonly metric: string;
  readonly open: () => Promise<BenchSubject>;
}

/** A metric measured on one subject with `measure`, or skipped with `why` when there is no subject. */
function subjectRecipe(
  metric: string,
  open: (() => Promise<BenchSubject>) | undefined,
  why: string,
  measure: (op: () => Promise<void>) => Promise<Figure>,
): Recipe {
  if (!open) return { metrics: [metric], skip: why };
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

function handoffRecipe(open: (() => Promise<Contender[]>) | undefined, box: TimeBox, why: string): Recipe {
  const metrics = ['lock.handoff', 'lock.fairness'];
  if (!open) return { metrics, skip: why };
  return {
    metrics,
    measure: async () => {
      const figures = await withContenders(open, box);
      return [figures.handoff, figures.fairness];
    },
  };
}

/** Permits of the `semaphore.handoff` benchmark (8 contenders on 2 permits). */
export const SEMAPHORE_HANDOFF_PERMITS = 2;

/** `semaphore.handoff` and `semaphore.fairness`, measured as the lock's are (see {@link measureHandoff}). */
function semaphoreHandoffRecipe(
  open: (() => Promise<Contender[]>) | undefined,
  box: TimeBox,
  why: string,
): Recipe {
  const metrics = ['semaphore.handoff', 'semaphore.fairness'];
  if (!open) return { metrics, skip: why };
  return {
    metrics,
    measure: async () => {
      const figures = await withContenders(open, box, SEMAPHORE_HANDOFF_PERMITS);
      return [figures.handoff, figures.fairness];
    },
  };
}

function hookOpener(
  hook: BenchHook | undefined,
  scope: BenchScope,
): (() => Promise<BenchSubject>) | undefined {
  return hook ? () => hook(scope) : undefined;
}

/**
 * Measures every metric lockstep, the profile's floors and its peers can give for `target`,
 * and records why each one that could not be measured is absent (a peer's metrics only when
 * the peer offers them). Counter metrics are left out, with that reason, for backends
 * without counters.
 */
export async function runBenchmarks(
  profile: BackendProfile,
  target: ConformanceTarget,
  capabilities: Capabilities,
  options: RunBenchmarksOptions,
): Promise<BenchResults> {
  const run = new BenchRun(options.timeBox ?? DEFAULT_TIME_BOX, options.log ?? (() => {}));
  const { box } = run;
  const counters = capabilities.counter.supported;
  const noCounters = `${profile.name}:// has no counters (capability counter.supported: false)`;
  const scope: BenchScope = { url: target.url, prefix: options.prefix };
  const ours: Sink = { label: `bench ${profile.name}`, figures: {} };
  const peerEntries = Object.entries(profile.peers ?? {}) as Array<[string, PeerBench]>;
  const peers = peerEntries.map(([library, peer]) => ({
    peer,
    sink: { label: `peer ${library}`, figures: {}, library } satisfies Sink,
  }));

  // lock.cycle: lockstep, its floor and every peer, interleaved.
  const floorCycle = hookOpener(profile.floor?.lockCycle, scope);
  if (!floorCycle) run.miss(ours, 'floor.lock.cycle', 'this backend has no hand-written floor');
  await run.latencyGroup([
    { sink: ours, metric: 'lock.cycle', open: () => lockCycleSubject(target) },
    ...(floorCycle ? [{ sink: ours, metric: 'floor.lock.cycle', open: floorCycle }] : []),
    ...peers.flatMap(({ peer, sink }) => {
      const open = hookOpener(peer.lockCycle, scope);
      return open ? [{ sink, metric: 'lock.cycle', open }] : [];
    }),
  ]);
  await run.recipes(ours, [handoffRecipe(() => lockContenders(target, HANDOFF_CONTENDERS), box, '')]);
  const readWrite = capabilities.readWrite;
  await run.recipes(ours, [
    latencyRecipe(
      'rwlock.read.cycle',
      readWrite?.supported ? () => readCycleSubject(target) : undefined,
      box,
      `${profile.name}:// has no read-write locks (capability readWrite.supported: false${readWrite && !readWrite.supported ? `: ${readWrite.reason}` : ''})`,
    ),
  ]);
  const rwMissing = `${profile.name}:// has no read-write locks (capability readWrite.supported: false${readWrite && !readWrite.supported ? `: ${readWrite.reason}` : ''})`;
  await run.recipes(
    ours,
    readWrite?.supported
      ? [
          { metrics: ['rwlock.writer-wait'], measure: async () => [await measureWriterWait(target, box)] },
          {
            metrics: ['rwlock.read.throughput8'],
            measure: async () => [await measureReadWriteThroughput(target, 'read', box)],
          },
          {
            metrics: ['rwlock.write.throughput8'],
            measure: async () => [await measureReadWriteThroughput(target, 'write', box)],
          },
        ]
      : [
          {
            metrics: ['rwlock.writer-wait', 'rwlock.read.throughput8', 'rwlock.write.throughput8'],
            skip: rwMissing,
          },
        ],
  );
  const elections = capabilities.election;
  const noElections = `${profile.name}:// has no elections (capability election.supported: false${elections && !elections.supported ? `: ${elections.reason}` : ''})`;
  await run.recipes(ours, [
    elections?.supported
      ? {
          metrics: ['election.resign', 'election.observe.lag'],
          measure: async () => {
            const figures = await measureElectionHandoff(target, box);
            return [figures.resign, figures.observeLag];
          },
        }
      : { metrics: ['election.resign', 'election.observe.lag'], skip: noElections },
    !elections?.supported
      ? { metrics: ['election.failover'], skip: noElections }
      : isInProcess(target)
        ? {
            metrics: ['election.failover'],
            skip: `${profile.name}:// lives in one process: there is no leader process to kill`,
          }
        : {
            metrics: ['election.failover'],
            // Each run waits out a dead leader's lease: a few, fewer on a short time box.
            measure: async () => [
              await measureElectionFailover(
                target,
                leaseTtlFor(target, capabilities),
                box.durationMs >= 1_000 ? 3 : 1,
              ),
            ],
          },
  ]);
  const semaphores = capabilities.semaphore;
  await run.recipes(ours, [
    semaphoreHandoffRecipe(
      semaphores?.supported
        ? () => semaphoreContenders(target, HANDOFF_CONTENDERS, SEMAPHORE_HANDOFF_PERMITS)
        : undefined,
      box,
      `${profile.name}:// has no semaphores (capability semaphore.supported: false${semaphores && !semaphores.supported ? `: ${semaphores.reason}` : ''})`,
    ),
  ]);

  // counter.increment and its floor, interleaved.
  const floorIncrement = hookOpener(profile.floor?.counterIncrement, scope);
  if (counters) {
    if (!floorIncrement) run.miss(ours, 'floor.counter.increment', 'this backend has no hand-written floor');
    await run.latencyGroup([
      { sink: ours, metric: 'counter.increment', open: () => counterIncrementSubject(target) },
      ...(floorIncrement ? [{ sink: ours, metric: 'floor.counter.increment', open: floorIncrement }] : []),
    ]);
  } else {
    run.miss(ours, 'counter.increment', noCounters);
    await run.recipes(ours, [
      latencyRecipe('floor.counter.increment', floorIncrement, box, 'no counters, so no floor either'),
    ]);
  }
  await run.recipes(ours, [
    throughputRecipe(
      'counter.throughput64',
      counters ? () => counterIncrementSubject(target) : undefined,
      box,
      noCounters,
    ),
    throughputRecipe(
      'naive.counter.throughput64',
      hookOpener(profile.naive?.counterThroughput64, scope),
      box,
      counters ? 'this backend has no naive baseline' : 'no counters, so no naive baseline either',
    ),
  ]);

  for (const { peer, sink } of peers) {
    await run.recipes(
      sink,
      [
        peer.lockHandoff
          ? handoffRecipe(() => peer.lockHandoff!(scope, HANDOFF_CONTENDERS), box, '')
          : undefined,
        peer.semaphoreHandoff
          ? semaphoreHandoffRecipe(
              () => peer.semaphoreHandoff!(scope, HANDOFF_CONTENDERS, SEMAPHORE_HANDOFF_PERMITS),
              box,
              '',
            )
          : undefined,
        peer.counterIncrement
          ? latencyRecipe('counter.increment', hookOpener(peer.counterIncrement, scope), box, '')
          : undefined,
        peer.counterThroughput64
          ? throughputRecipe('counter.throughput64', hookOpener(peer.counterThroughput64, scope), box, '')
          : undefined,
      ].filter((recipe): recipe is Recipe => recipe !== undefined),
    );
  }
  const peerFigures = Object.fromEntries(
    peers
      .filter(({ sink }) => Object.keys(sink.figures).length > 0)
      .map(({ sink }) => [sink.library, sink.figures]),
  );
  return { bench: ours.figures, peers: peerFigures, missing: run.missing };
}
