/**
 * The Consul `BackendDriver`: sessions, locks, release watches and counters over one HTTP client.
 * Core's coordinator supplies the rest (validation, handles, waiting, coalescing, close order).
 * @module
 */
import type { BackendDriver } from '@lockstep/core';
import { consulCapabilities } from './capabilities.js';
import { ConsulCounters } from './counters.js';
import type { ConsulHttp } from './http.js';
import { ConsulLocks } from './locks.js';
import { SessionPool } from './sessions.js';
import { ReleaseWatches } from './watch.js';

/** `wait` of the waiters' blocking queries. */
export const WATCH_WAIT_MS = 60_000;

/** Settings of {@link consulDriver}. */
export interface DriverSettings {
  readonly sessionTtlMinMs: number;
  readonly lockDelayMs: number;
}

/** Builds the driver. `close()` destroys its sessions; the HTTP client has nothing to close. */
export function consulDriver(http: ConsulHttp, settings: DriverSettings): BackendDriver {
  const sessions = new SessionPool(http, settings.lockDelayMs);
  const watches = new ReleaseWatches(http, WATCH_WAIT_MS);
  return {
    backend: 'consul',
    capabilities: consulCapabilities(settings.sessionTtlMinMs),
    locks: new ConsulLocks(http, sessions, watches),
    counters: new ConsulCounters(http),
    async close() {
      // Core released every handle first, so destroying the sessions starts no lock-delay.
      watches.close();
      await sessions.close();
    },
  };
}
