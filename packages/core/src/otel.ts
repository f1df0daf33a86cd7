/**
 * `@lockstep/core/otel` — OpenTelemetry for every coordinator of the process, through
 * `@opentelemetry/api` only (bring your own SDK; without one, the API's no-op providers make
 * this free). It listens on lockstep's `diagnostics_channel` events, so nothing is wired per
 * coordinator:
 *
 * ```ts
 * import { instrumentLockstep } from '@lockstep/core/otel';
 * const stop = instrumentLockstep(); // global tracer and meter providers
 * ```
 *
 * Spans: `lockstep.acquire` from the call to its outcome (granted, busy, timed out, aborted,
 * failed), and `lockstep.hold` around the work `withLock` runs — active while it runs, so the
 * work's own spans (a database write carrying the fencing token) become its children.
 *
 * Metrics (units per OpenTelemetry's conventions: durations in seconds):
 * - `lockstep.lock.wait.duration` (histogram, s): call to outcome; attribute `lockstep.outcome`
 * - `lockstep.lock.hold.duration` (histogram, s): grant to release or loss; `lockstep.end`
 * - `lockstep.lock.acquisitions` (counter): acquires by `lockstep.outcome`
 *   (`granted`, `busy`, `timed_out`, `aborted`, `error`)
 * - `lockstep.lock.held` (up-down counter): locks held now
 * - `lockstep.lock.losses` (counter): losses by `lockstep.loss.reason`
 * - `lockstep.lock.renewal.failures` (counter)
 *
 * Every span and data point carries `lockstep.backend` and `lockstep.primitive`; spans also carry
 * `lockstep.lock.name` (metrics do not: lock names are unbounded in number) and, once granted,
 * `lockstep.fencing_token`.
 * @packageDocumentation
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type Attributes,
  type MeterProvider,
  metrics,
  type Span,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import {
  eventChannelName,
  type LockEventBase,
  type LockstepEvents,
  type LockstepEventType,
  setWorkWrapper,
  type WorkWrapper,
} from './events.js';

/** Options of {@link instrumentLockstep}. */
export interface InstrumentOptions {
  /** Default: the global tracer provider. */
  readonly tracerProvider?: TracerProvider;
  /** Default: the global meter provider. */
  readonly meterProvider?: MeterProvider;
  /** Put lock names on spans (default `true`); turn off when names carry sensitive data. */
  readonly lockNames?: boolean;
}

const SCOPE = '@lockstep/core';

/** What an acquire span needs until its outcome arrives. */
interface Pending {
  readonly span: Span;
  readonly startedAt: number;
}

/**
 * Starts reporting spans and metrics for every lockstep coordinator in the process. Returns
 * the function that stops it. Calling it again replaces the previous instrumentation.
 */
export function instrumentLockstep(options: InstrumentOptions = {}): () => void {
  current?.();
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
  const lockNames = options.lockNames ?? true;
  const waitDuration = meter.createHistogram('lockstep.lock.wait.duration', {
    unit: 's',
    description: 'Time from an acquire call to its outcome',
  });
  const holdDuration = meter.createHistogram('lockstep.lock.hold.duration', {
    unit: 's',
    description: 'Time a lock was held, from its grant to its release or loss',
  });
  const acquisitions = meter.createCounter('lockstep.lock.acquisitions', {
    description: 'Acquire calls, by outcome',
  });
  const held = meter.createUpDownCounter('lockstep.lock.held', { description: 'Locks held now' });
  const losses = meter.createCounter('lockstep.lock.losses', { description: 'Held locks lost, by reason' });
  const renewalFailures = meter.createCounter('lockstep.lock.renewal.failures', {
    description: 'Renewals that could not reach the backend',
  });

  const pending = new Map<number, Pending>();
  const base = (e: LockEventBase): Attributes => ({
    'lockstep.backend': e.backend,
    'lockstep.primitive': e.primitive,
  });
  const spanAttributes = (e: LockEventBase): Attributes =>
    lockNames ? { ...base(e), 'lockstep.lock.name': e.name } : base(e);

  const settle = (attempt: number, outcome: string, error?: unknown, extra: Attributes = {}) => {
    const entry = pending.get(attempt);
    if (!entry) return;
    pending.delete(attempt);
    entry.span.setAttributes({ 'lockstep.outcome': outcome, ...extra });
    if (error !== undefined) {
      entry.span.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
      if (error instanceof Error) entry.span.recordException(error);
    }
    entry.span.end();
    return (performance.now() - entry.startedAt) / 1000;
  };
  const outcome = (e: LockEventBase, name: string, seconds: number | undefined) => {
    const attributes = { ...base(e), 'lockstep.outcome': name };
    acquisitions.add(1, attributes);
    if (seconds !== undefined) waitDuration.record(seconds, attributes);
  };

  const handlers: { [K in LockstepEventType]: (event: LockstepEvents[K]) => void } = {
    acquire: (e) => {
      const span = tracer.startSpan('lockstep.acquire', {
        attributes: {
          ...spanAttributes(e),
          ...(e.waitMs === undefined ? {} : { 'lockstep.wait_ms': e.waitMs }),
        },
      });
      pending.set(e.attempt, { span, startedAt: performance.now() });
    },
    granted: (e) => {
      const token =
        e.fencingToken === undefined ? {} : { 'lockstep.fencing_token': e.fencingToken.toString() };
      outcome(e, 'granted', settle(e.attempt, 'granted', undefined, token));
      held.add(1, base(e));
    },
    busy: (e) => outcome(e, 'busy', settle(e.attempt, 'busy')),
    'timed-out': (e) => outcome(e, 'timed_out', settle(e.attempt, 'timed_out')),
    aborted: (e) => outcome(e, 'aborted', settle(e.attempt, 'aborted')),
    released: (e) => {
      held.add(-1, base(e));
      holdDuration.record(e.heldMs / 1000, { ...base(e), 'lockstep.end': 'released' });
    },
    'renewal-failed': (e) => renewalFailures.add(1, base(e)),
    lost: (e) => {
      held.add(-1, base(e));
      holdDuration.record(e.heldMs / 1000, { ...base(e), 'lockstep.end': 'lost' });
      losses.add(1, { ...base(e), 'lockstep.loss.reason': e.reason });
    },
    'backend-error': (e) => {
      if (e.attempt === undefined) return;
      const seconds = settle(e.attempt, 'error', e.cause);
      const attributes = {
        'lockstep.backend': e.backend,
        'lockstep.primitive': 'lock',
        'lockstep.outcome': 'error',
      };
      acquisitions.add(1, attributes);
      if (seconds !== undefined) waitDuration.record(seconds, attributes);
    },
  };

  const subscriptions = (Object.keys(handlers) as LockstepEventType[]).map((type) => {
    const listener = (message: unknown) => (handlers[type] as (event: unknown) => void)(message);
    subscribe(eventChannelName(type), listener);
    return () => unsubscribe(eventChannelName(type), listener);
  });

  const wrapWork: WorkWrapper = (info, work) =>
    tracer.startActiveSpan(
      'lockstep.hold',
      {
        attributes: {
          ...spanAttributes(info),
          ...(info.fencingToken === undefined
            ? {}
            : { 'lockstep.fencing_token': info.fencingToken.toString() }),
        },
      },
      async (span) => {
        try {
          return await work();
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
          if (error instanceof Error) span.recordException(error);
          throw error;
        } finally {
          span.end();
        }
      },
    );
  setWorkWrapper(wrapWork);

  const stop = () => {
    if (current !== stop) return;
    current = undefined;
    for (const unsubscribeOne of subscriptions) unsubscribeOne();
    setWorkWrapper(undefined);
    for (const { span } of pending.values()) span.end();
    pending.clear();
  };
  current = stop;
  return stop;
}

/** The running instrumentation's stop, so a second call replaces the first. */
let current: (() => void) | undefined;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
