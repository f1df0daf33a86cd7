/**
 * The {@link TestContext} a test runs with, and its cleanup: every client a test opened is
 * closed, every deferred cleanup runs, even when the test failed or timed out.
 * @module
 */

import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Capabilities, Coordinator } from '@lockstep/core';
import type { ConformanceTarget } from '../target.js';
import { describeError, SkipTest } from './assert.js';
import type { TestContext } from './types.js';

/** Longest a single cleanup step may take before it is abandoned (and reported). */
const CLEANUP_STEP_MS = 10_000;

/** A context plus the handles the runner needs to end it. */
export interface RunningContext {
  readonly ctx: TestContext;
  /** Aborts `ctx.signal` (the test timed out). */
  abort(reason: unknown): void;
  /** Runs deferred cleanups and closes clients; returns problems found while cleaning up. */
  dispose(): Promise<string[]>;
  /** Lines logged by the test. */
  readonly details: string[];
}

/** Options of {@link createContext}. */
export interface ContextOptions {
  readonly target: ConformanceTarget;
  readonly capabilities: Capabilities;
  readonly ttlMs: number;
  readonly testId: string;
}

/** Builds the context for one test run. */
export function createContext(options: ContextOptions): RunningContext {
  const controller = new AbortController();
  // Every wait and sleep of a test listens to this signal; many at once are normal, not a leak.
  setMaxListeners(0, controller.signal);
  const cleanups: Array<() => unknown> = [];
  const details: string[] = [];
  const runId = randomBytes(4).toString('hex');
  let counter = 0;

  const client = async (url?: string): Promise<Coordinator> => {
    controller.signal.throwIfAborted();
    const coordinator = await options.target.connect(url);
    cleanups.push(() => coordinator.close());
    return coordinator;
  };

  const ctx: TestContext = {
    target: options.target,
    capabilities: options.capabilities,
    ttlMs: options.ttlMs,
    signal: controller.signal,
    name: (label = 'x') => `conformance/${options.testId}/${label} ${runId}.${++counter}`,
    client,
    clients: (n) => Promise.all(Array.from({ length: n }, () => client())),
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
    log: (message) => {
      details.push(message);
    },
    skip: (reason) => {
      throw new SkipTest(reason);
    },
    sleep: (ms) => delay(ms, undefined, { signal: controller.signal }),
  };

  return {
    ctx,
    details,
    abort: (reason) => controller.abort(reason),
    dispose: async () => {
      const problems: string[] = [];
      // Last registered first: a proxy opened before a client must outlive the client's close.
      for (const cleanup of cleanups.reverse()) {
        const outcome = await boundedCleanup(cleanup);
        if (outcome) problems.push(outcome);
      }
      return problems;
    },
  };
}

async function boundedCleanup(cleanup: () => unknown): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`a cleanup step did not finish within ${CLEANUP_STEP_MS} ms`),
        CLEANUP_STEP_MS,
      );
    });
    const done = Promise.resolve()
      .then(cleanup)
      .then(() => undefined);
    return await Promise.race([done, timedOut]);
  } catch (error) {
    return `cleanup failed: ${describeError(error)}`;
  } finally {
    clearTimeout(timer);
  }
}
