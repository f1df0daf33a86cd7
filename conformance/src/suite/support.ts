/**
 * Small helpers shared by several tests: reading tokens where they exist, skip reasons for
 * missing capabilities, and the fault proxy in front of every host of a target.
 * @module
 */
import type {
  Capabilities,
  ElectionCapabilities,
  LockCapabilities,
  LockHandle,
  ReadWriteCapabilities,
  SemaphoreCapabilities,
} from '@lockstep/core';
import type { FaultProxy } from '@lockstep/testing';
import {
  type ConformanceTarget,
  hostList,
  isInProcess,
  isProxyable,
  schemeOf,
  withHostList,
} from '../target.js';
import type { TestContext } from './types.js';

/** The handle's token when the backend declares monotonic fencing, else `undefined`. */
export function tokenOf(handle: LockHandle, capabilities: Capabilities): bigint | undefined {
  return fencedToken(handle, capabilities.lock);
}

/** The handle's token when `caps` (a lock's, a permit's, a side's) declare monotonic fencing. */
export function fencedToken(handle: LockHandle, caps: LockCapabilities): bigint | undefined {
  return caps.fencing === 'monotonic' ? handle.fencingToken : undefined;
}

/** What each optional primitive declares once supported. */
interface PrimitiveCapabilities {
  readonly semaphore: SemaphoreCapabilities;
  readonly readWrite: ReadWriteCapabilities;
  readonly election: ElectionCapabilities;
}

/** The declared capabilities of an optional primitive, or `undefined` when unsupported. */
export function primitiveCaps<K extends keyof PrimitiveCapabilities>(
  capabilities: Capabilities,
  primitive: K,
): PrimitiveCapabilities[K] | undefined {
  const support = capabilities[primitive];
  return support?.supported ? (support as PrimitiveCapabilities[K]) : undefined;
}

/** A `requires` that skips tests of a primitive the backend does not declare, with its reason. */
export function requirePrimitive(
  primitive: keyof PrimitiveCapabilities,
): (capabilities: Capabilities) => string | undefined {
  return (capabilities) => {
    const support = capabilities[primitive];
    if (support?.supported) return undefined;
    return `capability ${primitive}.supported: false declared${support && !support.supported ? ` (${support.reason})` : ''}`;
  };
}

/**
 * A `requires` for tests that run the primitive in other processes: skipped, too, on a backend
 * whose state lives inside one process. `doing` completes "another process cannot …".
 */
export function requirePrimitiveInProcesses(
  primitive: keyof PrimitiveCapabilities,
  doing: string,
): (capabilities: Capabilities, target: ConformanceTarget) => string | undefined {
  const declared = requirePrimitive(primitive);
  return (capabilities, target) =>
    declared(capabilities) ??
    (isInProcess(target)
      ? `${schemeOf(target.url)}:// keeps its state inside one process: another process cannot ${doing}`
      : undefined);
}

/** Skip reason for counter tests on backends without counters. */
export function requireCounters(capabilities: Capabilities): string | undefined {
  return capabilities.counter.supported ? undefined : 'capability counter.supported: false declared';
}

/** Fault proxies in front of every host of a URL, acting together. */
export interface ProxiedUrl {
  /** The URL with every host replaced by its proxy. */
  readonly url: string;
  /** Resets every connection, open or new, until `heal()`. */
  cut(): void;
  /** Holds every byte (a black hole that keeps connections open) until `heal()`. */
  pause(): void;
  heal(): void;
  close(): Promise<void>;
}

/**
 * Puts `faultProxy()` from @lockstep/testing in front of every host of the target's URL and
 * returns the proxied URL; the proxies are closed after the test. Skips the test when the
 * target cannot be proxied (embedded backends, or `proxyable: false`).
 */
export async function proxyTarget(ctx: TestContext): Promise<ProxiedUrl> {
  if (!isProxyable(ctx.target)) {
    ctx.skip(`${schemeOf(ctx.target.url)}:// has no host:port address a TCP fault proxy can front`);
  }
  const { faultProxy } = await import('@lockstep/testing');
  const hosts = hostList(ctx.target.url);
  const proxies: FaultProxy[] = [];
  try {
    for (const host of hosts) proxies.push(await faultProxy(withHostList(ctx.target.url, [host])));
  } catch (error) {
    await Promise.allSettled(proxies.map((p) => p.close()));
    throw error;
  }
  const proxied: ProxiedUrl = {
    url: withHostList(
      ctx.target.url,
      proxies.map((p) => ({ host: p.host, port: p.port })),
    ),
    cut: () => {
      for (const p of proxies) p.cut();
    },
    pause: () => {
      for (const p of proxies) p.pause();
    },
    heal: () => {
      for (const p of proxies) p.heal();
    },
    close: async () => {
      await Promise.allSettled(proxies.map((p) => p.close()));
    },
  };
  ctx.defer(() => proxied.close());
  return proxied;
}
