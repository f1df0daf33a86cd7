/**
 * The shape of one conformance test: data (id, title, when it applies) plus a run function
 * that receives a {@link TestContext}. The same definitions run under vitest and from the
 * compare runner.
 * @module
 */
import type { Capabilities, Coordinator } from '@lockstep/core';
import type { ConformanceTarget } from '../target.js';

/**
 * Every test id, in the order results are reported. This is the one list: the report's row
 * order and the suite's own order check both read it.
 */
export const TEST_IDS = [
  'lock.exclusive',
  'lock.try',
  'lock.handoff',
  'lock.wait-timeout',
  'lock.abort',
  'lock.release',
  'lock.expiry',
  'lock.auto-extend',
  'lock.extend',
  'lock.lost-signal',
  'lock.fencing',
  'lock.names',
  'lock.process-kill',
  'lock.process-pause',
  'counter.atomic',
  'counter.linearizable',
  'counter.cas',
  'counter.bounds',
  'counter.input',
  'backend.unavailable',
  'backend.close',
  'backend.keepalive',
  'semaphore.limit',
  'semaphore.try',
  'semaphore.handoff',
  'semaphore.expiry',
  'semaphore.process-kill',
  'semaphore.fencing',
  'semaphore.mismatch',
  'rwlock.exclusive',
  'rwlock.shared',
  'rwlock.writer-progress',
  'rwlock.expiry',
  'rwlock.fencing',
  'election.single-leader',
  'election.terms',
  'election.failover',
  'election.resign',
  'election.observe',
  'election.proclaim',
] as const;

/** One of {@link TEST_IDS}. */
export type TestId = (typeof TEST_IDS)[number];

/** What a test's run function gets: the target, fresh clients, unique names, cleanup. */
export interface TestContext {
  readonly target: ConformanceTarget;
  /** Capabilities the target's coordinators declare. */
  readonly capabilities: Capabilities;
  /** Lease length for tests that wait for a lease to end (see `ConformanceTarget.ttlMs`). */
  readonly ttlMs: number;
  /** Aborted when the test runs out of time; waits and sleeps should honour it. */
  readonly signal: AbortSignal;
  /** A name no other test or run uses (it contains `/` and spaces on purpose). */
  name(label?: string): string;
  /** A new client with its own connections (`target.connect(url)`), closed after the test. */
  client(url?: string): Promise<Coordinator>;
  /** `n` new clients, opened concurrently. */
  clients(n: number): Promise<Coordinator[]>;
  /** Runs `cleanup` after the test, last registered first, whatever the outcome. */
  defer(cleanup: () => unknown): void;
  /** A line of detail for the report (kept with the result; shown on failure). */
  log(message: string): void;
  /** Ends the test as `skip` with `reason` (for conditions only known while running). */
  skip(reason: string): never;
  /** Sleeps `ms`; rejects when the test is aborted. Use only where no event exists to wait for. */
  sleep(ms: number): Promise<void>;
}

/**
 * One conformance test, defined once as data.
 *
 * `requires` decides applicability before anything runs: it returns `undefined` when the
 * test applies, else the reason it is skipped (e.g. "capability fencing: 'none' declared").
 * `run` throws to fail; it must assert something a broken backend would get wrong.
 */
export interface ConformanceTest {
  readonly id: TestId;
  /** What it proves, in one line. */
  readonly title: string;
  /** `undefined` when the test applies to this target, else the skip reason. */
  requires?(capabilities: Capabilities, target: ConformanceTarget): string | undefined;
  /** Longest the run may take before it fails as timed out. Default 60 000 ms. */
  readonly timeoutMs?: number;
  run(ctx: TestContext): Promise<void>;
}

/** Outcome of one test. */
export interface TestResult {
  readonly id: string;
  readonly status: 'pass' | 'fail' | 'skip';
  /** Wall time of the run (0 for tests skipped before running). */
  readonly ms: number;
  /** Why it was skipped, or why it failed. */
  readonly reason?: string;
  /** Lines the test logged (measured bounds, counts), for reports and failure messages. */
  readonly details?: readonly string[];
}
