/**
 * Time bounds shared by the tests. The suite runs on loaded CI machines next to other test
 * suites, so bounds are generous — but each still separates right from wrong (a lost
 * notification, a lease that never ends, a wait that hangs).
 * @module
 */
import type { TestContext } from './types.js';

/**
 * Slack added to anything that waits for a lease to end: expiry is noticed by a waiter's
 * fallback re-check (up to 2 s apart in core) or by a session timeout, and the machine may
 * be busy.
 */
export function leaseSlackMs(ctx: TestContext): number {
  return Math.max(3_000, ctx.ttlMs);
}

/**
 * Longest a lease-based loss (expiry, cut connection, dead process) may take to be seen.
 * Per-session leases may outlive their TTL on the server (Consul invalidates a session
 * between TTL and 2 × TTL after its last renewal; ZooKeeper and etcd expire sessions on
 * their own timers), so they get a second TTL before slack.
 */
export function lossBoundMs(ctx: TestContext): number {
  const serverLease = ctx.capabilities.lock.lease === 'per-session' ? 2 * ctx.ttlMs : ctx.ttlMs;
  return serverLease + leaseSlackMs(ctx);
}

/**
 * Resolves with the `performance.now()` instant `signal` aborted (at once when it already
 * had, with the current time), or `undefined` when `ms` passed first.
 */
export function abortedWithin(signal: AbortSignal, ms: number): Promise<number | undefined> {
  if (signal.aborted) return Promise.resolve(performance.now());
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(performance.now());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(undefined);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `ms` rounded for messages. */
export function fmt(ms: number): string {
  return `${ms < 10 ? ms.toFixed(2) : Math.round(ms)} ms`;
}
