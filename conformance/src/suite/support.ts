/**
 * Small helpers shared by several tests: reading tokens where they exist, skip reasons for
 * missing capabilities, and the fault proxy in front of every host of a target.
 * @module
 */
import type { Capabilities, LockHandle } from '@lockstep/core';
import type { FaultProxy } from '@lockstep/testing';
import { hostList, isProxyable, schemeOf, withHostList } from '../target.js';
import type { TestContext } from './types.js';

/** The handle's token when the backend declares monotonic fencing, else `undefined`. */
export function tokenOf(handle: LockHandle, capabilities: Capabilities): bigint | undefined {
  return capabilities.lock.fencing === 'monotonic' ? handle.fencingToken : undefined;
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
