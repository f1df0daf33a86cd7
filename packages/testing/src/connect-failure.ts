/**
 * `failedConnect(url)`: for tests of what a failed `connect()` says and how soon it says it.
 * @module
 */
import { type AnyConnectOptions, type Coordinator, connect } from '@lockstep/core';

/** How a `connect()` that was expected to fail ended. */
export interface FailedConnect {
  /** What `connect()` rejected with. */
  readonly error: unknown;
  /** How long it took to reject. */
  readonly ms: number;
}

/**
 * Calls `connect(url, options)` expecting it to reject; resolves with the rejection and how
 * long it took. A connect that succeeds is closed and reported as an error (the test failed).
 * The adapter for `url` must be imported (registered) by the caller.
 */
export async function failedConnect(url: string, options?: AnyConnectOptions): Promise<FailedConnect> {
  const start = performance.now();
  let coordinator: Coordinator;
  try {
    coordinator = await connect(url, options);
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
  await coordinator.close();
  throw new Error(`expected connect(${JSON.stringify(url)}) to fail, but it connected`);
}
