/**
 * Counters among processes of one host: one file per counter, read-check-write inside a
 * flock critical section, so bounds hold and no increment is lost.
 * @module
 */
import { applyDelta, type CounterDriver, type CounterRef } from '@lockstep/core/driver';
import { withFileLock } from './flock.js';
import type { Layout } from './layout.js';
import { readRecord, writeRecord } from './record.js';

interface CounterRecord {
  readonly name: string;
  readonly value: number;
}

/** The counter driver over one layout. */
export function fileCounters(layout: Layout): CounterDriver {
  const update = <T>(ref: CounterRef, fn: (value: number) => { write?: number; result: T }) =>
    withFileLock(layout.counterFile(ref), (fd) => {
      const { write, result } = fn(readRecord<CounterRecord>(fd)?.value ?? 0);
      if (write !== undefined) writeRecord(fd, { name: ref.name, value: write } satisfies CounterRecord);
      return result;
    });
  return {
    get: (ref) => update(ref, (value) => ({ result: value })),
    add: (ref, delta) =>
      update(ref, (value) => {
        const outcome = applyDelta(value, delta, ref);
        return { write: outcome.ok ? outcome.value : undefined, result: outcome };
      }),
    set: (ref, next) => update(ref, () => ({ write: next, result: undefined })),
    compareAndSet: (ref, expected, next) =>
      update(ref, (value) => (value === expected ? { write: next, result: true } : { result: false })),
  };
}
