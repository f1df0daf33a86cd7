/** Small helpers shared by this package's tests. */
import { randomBytes } from 'node:crypto';
import { type Coordinator, connect } from '@lockstep/core';
import { afterEach } from 'vitest';
import { type ConsulCoordinatorOptions, consulCoordinator } from '../index.js';
import { countingFetch } from './raw.js';

const opened: Coordinator[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((c) => c.close()));
});

/** A prefix no other test uses, so tests never see each other's keys. */
export function freshPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** `connect(url, options)`, closed after the test. */
export async function open(url: string, options: Record<string, unknown> = {}): Promise<Coordinator> {
  const coordinator = await connect(url, options);
  opened.push(coordinator);
  return coordinator;
}

/** Registers a coordinator made some other way, so it is closed after the test. */
export function track<T extends Coordinator>(coordinator: T): T {
  opened.push(coordinator);
  return coordinator;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with ms from now until `signal` aborts, or rejects after `withinMs`. */
export function abortedWithin(signal: AbortSignal, withinMs: number): Promise<number> {
  const start = performance.now();
  if (signal.aborted) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`signal not aborted within ${withinMs} ms`)), withinMs);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve(performance.now() - start);
      },
      { once: true },
    );
  });
}

/** Polls `check` every 20 ms until it returns true, or fails after `withinMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, withinMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > withinMs) throw new Error(`condition not met within ${withinMs} ms`);
    await delay(20);
  }
}

/**
 * A coordinator over the agent at `httpUrl` (sessions down to `sessionTtlMinMs`) whose requests
 * are recorded, closed after the test.
 */
export function counted(
  httpUrl: string,
  sessionTtlMinMs: number,
  options: Partial<ConsulCoordinatorOptions> = {},
): { coord: Coordinator; counting: ReturnType<typeof countingFetch> } {
  const counting = countingFetch();
  const coord = track(
    consulCoordinator({ url: httpUrl, sessionTtlMinMs, fetch: counting.fetch, ...options }),
  );
  return { coord, counting };
}
