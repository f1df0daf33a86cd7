/**
 * Registers `memory://`. Coordinators with the same `memory://NAME` in one process share
 * state; `memory://` alone is one default space.
 * @module
 */
import { createCoordinator } from '../coordinator.js';
import { optionNames, rejectUnknownOptions } from '../option-names.js';
import { registerAdapter } from '../registry.js';
import type { Coordinator, MemoryConnectOptions } from '../types.js';
import { memoryDriver } from './driver.js';

export { MEMORY_CAPABILITIES } from './driver.js';

/** memory:// connects at once; it takes `connectTimeoutMs` like every adapter, and needs none. */
const MEMORY_OPTION_NAMES = optionNames<MemoryConnectOptions>()(['prefix', 'connectTimeoutMs']);

/** A coordinator over the in-process space `name` (default: the unnamed space). */
export function connectMemory(name = '', options: MemoryConnectOptions = {}): Coordinator {
  rejectUnknownOptions(options, MEMORY_OPTION_NAMES, 'memory:// options');
  return createCoordinator(memoryDriver(name), { prefix: options.prefix });
}

registerAdapter({
  schemes: ['memory'],
  packageName: '@lockstep/core',
  connect: async (url, options) => connectMemory(decodeURIComponent(url.host + url.pathname), options),
});
