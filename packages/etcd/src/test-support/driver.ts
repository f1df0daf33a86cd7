/**
 * Test helpers (not exported from the package).
 * @module
 */
import type { Coordinator } from '@lockstep/core';
import { driverFor } from '../coordinator.js';
import type { EtcdDriver } from '../driver.js';

/** The driver behind an etcd coordinator, for looking at round-trip counts and sessions. */
export function driverOf(coordinator: Coordinator): EtcdDriver {
  const driver = driverFor(coordinator);
  if (!driver) throw new Error('not an etcd coordinator');
  return driver;
}
