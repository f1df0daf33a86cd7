/**
 * Registers `memory://`. Coordinators with the same `memory://NAME` in one process share
 * state; `memory://` alone is one default space.
 * @module
 */
import { createCoordinator } from '../coordinator.js';
import { registerAdapter } from '../registry.js';
import type { ConnectOptions, Coordinator } from '../types.js';
import { memoryDriver } from './driver.js';

export { MEMORY_CAPABILITIES } from './driver.js';

/** A coordinator over the in-process space `name` (default: the unnamed space). */
export function connectMemory(name = '', options: ConnectOptions = {}): Coordinator {
  return createCoordinator(memoryDriver(name), { prefix: options.prefix });
}

registerAdapter({
  schemes: ['memory'],
  packageName: '@lockstep/core',
  connect: async (url, options) => connectMemory(decodeURIComponent(url.host + url.pathname), options),
});
