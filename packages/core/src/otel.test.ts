import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectMemory } from './memory/index.js';
import { instrumentLockstep } from './otel.js';

describe('OpenTelemetry', () => {
  // Fresh providers per test: cumulative metrics must not carry over.
  let spans: InMemorySpanExporter;
  let tracerProvider: BasicTracerProvider;
  let metricsOut: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  let stop: () => void = () => {};

  beforeEach(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    spans = new InMemorySpanExporter();
    tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    metricsOut = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    reader = new PeriodicExportingMetricReader({ exporter: metricsOut, exportIntervalMillis: 60_000 });
    stop = instrumentLockstep({ tracerProvider, meterProvider: new MeterProvider({ readers: [reader] }) });
  });
  afterEach(() => {
    stop();
    context.disable();
  });

  it('spans each acquire with its outcome, and the work under withLock as the parent of its own spans', async () => {
    const coord = connectMemory('otel');
    const other = connectMemory('otel');
    await coord.lock('job').withLock(async () => {
      tracerProvider.getTracer('app').startActiveSpan('app.write', (span) => span.end());
    });
    const held = await other.lock('job').acquire();
    expect(await coord.lock('job').tryAcquire()).toBeNull();
    await coord
      .lock('job')
      .acquire({ waitMs: 10 })
      .catch(() => {});
    await held.release();

    const finished = spans.getFinishedSpans();
    const acquires = finished.filter((s) => s.name === 'lockstep.acquire');
    expect(acquires.map((s) => s.attributes['lockstep.outcome'])).toEqual([
      'granted',
      'granted',
      'busy',
      'timed_out',
    ]);
    expect(acquires[0]!.attributes).toMatchObject({
      'lockstep.backend': 'memory',
      'lockstep.primitive': 'lock',
      'lockstep.lock.name': 'job',
      'lockstep.fencing_token': '1',
    });
    const hold = finished.find((s) => s.name === 'lockstep.hold')!;
    const write = finished.find((s) => s.name === 'app.write')!;
    expect(write.parentSpanContext?.spanId).toBe(hold.spanContext().spanId);
    await coord.close();
    await other.close();
  });

  it('counts acquisitions by outcome, held locks, losses by reason, and records wait and hold times', async () => {
    const coord = connectMemory('otel-metrics');
    const a = await coord.lock('a').acquire();
    await a.release();
    const b = await coord.lock('b', { ttlMs: 20, autoExtend: false }).acquire();
    await new Promise<void>((resolve) => b.signal.addEventListener('abort', () => resolve()));
    const c = await coord.lock('c').acquire();

    await reader.forceFlush();
    const points = new Map<string, Array<{ attributes: Record<string, unknown>; value: unknown }>>();
    for (const batch of metricsOut.getMetrics())
      for (const scope of batch.scopeMetrics)
        for (const metric of scope.metrics)
          points.set(
            metric.descriptor.name,
            metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
          );
    const value = (name: string, match: Record<string, unknown> = {}) =>
      points.get(name)?.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))?.value;

    expect(value('lockstep.lock.acquisitions', { 'lockstep.outcome': 'granted' })).toBe(3);
    expect(value('lockstep.lock.held')).toBe(1);
    expect(value('lockstep.lock.losses', { 'lockstep.loss.reason': 'expired' })).toBe(1);
    expect(
      (value('lockstep.lock.hold.duration', { 'lockstep.end': 'lost' }) as { count: number }).count,
    ).toBe(1);
    expect((value('lockstep.lock.wait.duration') as { count: number }).count).toBe(3);
    // Lock names are unbounded: never a metric attribute.
    for (const list of points.values())
      for (const p of list) expect(p.attributes['lockstep.lock.name']).toBeUndefined();
    await c.release();
    await coord.close();
  });

  it('stops when told: nothing more is recorded', async () => {
    stop();
    const coord = connectMemory('otel-off');
    await (await coord.lock('x').acquire()).release();
    expect(spans.getFinishedSpans()).toHaveLength(0);
    await coord.close();
  });
});
