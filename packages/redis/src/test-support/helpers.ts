/**
 * Small helpers shared by this package's tests.
 */
import { randomBytes } from 'node:crypto';
import { type Coordinator, connect } from '@lockstep/core';
import { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import '../index.js';
import { delay, within } from '@lockstep/conformance/interop';
import type { RedisConnectOptions } from '../options.js';

/** A coordinator closed when the current test ends. */
export async function open(url: string, options: RedisConnectOptions = {}): Promise<Coordinator> {
  const coord = await connect(url, options);
  onTestFinished(() => coord.close());
  return coord;
}

/** A raw ioredis client for inspecting the server, closed when the current test ends. */
export function rawClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  onTestFinished(() => void client.disconnect());
  return client;
}

/** A prefix no other test uses. */
export function freshPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** Calls of one command since the last `CONFIG RESETSTAT`, from `INFO commandstats`. */
export async function commandCalls(client: Redis, command: string): Promise<number> {
  const info = await client.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

/** Resolves when `signal` aborts, with the time it took from `since`. */
export function abortedAfter(signal: AbortSignal, since: number): Promise<number> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(performance.now() - since);
    signal.addEventListener('abort', () => resolve(performance.now() - since), { once: true });
  });
}

export { delay, within };

/** Retries `check` until it stops throwing, for conditions that have no event (server state). */
export async function eventually(check: () => Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await delay(20);
    }
  }
}
