/**
 * Helpers for the package's own tests (not exported from the package).
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Coordinator } from '@lockstep/core';
import type { Etcd3 } from 'etcd3';
import { driverFor, type EtcdDriver } from '../coordinator.js';

/** The driver behind an etcd coordinator, for looking at round-trip counts, sessions and wake-ups. */
export function driverOf(coordinator: Coordinator): EtcdDriver {
  const driver = driverFor(coordinator);
  if (!driver) throw new Error('not an etcd coordinator');
  return driver;
}

export { rawClient } from '../testing/raw.js';

/** Resolves once `condition()` holds (checked every 10 ms), or throws after `timeoutMs`. */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Resolves when `signal` aborts (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(signal.reason);
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

/** Resolves once `n` keys start with `prefix` (a queue's contenders, as a raw client sees them). */
export async function keysUnder(client: Etcd3, prefix: string, n: number): Promise<void> {
  await until(
    `${n} keys under ${prefix}`,
    async () => (await client.getAll().prefix(prefix).keys()).length === n,
  );
}
