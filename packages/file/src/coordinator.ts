/**
 * Building a file:// coordinator: a directory, its layout, and the drivers of each primitive.
 * @module
 */
import type { Coordinator } from '@lockstep/core';
import { type BackendDriver, createCoordinator, encodeName } from '@lockstep/core/driver';
import { FILE_CAPABILITIES } from './capabilities.js';
import { fileCounters } from './counters.js';
import { fileElections } from './elections.js';
import { loadLockBinding } from './flock.js';
import { Layout, prepareRoot } from './layout.js';
import { fileLocks, fileReadWriteLocks, fileSemaphores } from './locks.js';
import { type FileConnectOptions, resolveOptions } from './options.js';

/**
 * A coordinator over directory `dir` (absolute; created if missing).
 * @throws InvalidArgumentError for a bad option (before anything is touched).
 * @throws BackendUnavailableError when the native file-lock binding cannot be loaded.
 */
export function connectFile(dir: string, options: FileConnectOptions = {}): Coordinator {
  const resolved = resolveOptions(options);
  loadLockBinding();
  const root = prepareRoot(dir, resolved.allowNetworkFileSystem);
  const layout = new Layout(root, encodeName(resolved.prefix));
  const driver: BackendDriver = {
    backend: 'file',
    capabilities: FILE_CAPABILITIES,
    locks: fileLocks(layout),
    semaphores: fileSemaphores(layout),
    readWriteLocks: fileReadWriteLocks(layout),
    elections: fileElections(layout),
    counters: fileCounters(layout),
    // Nothing to close: every file is opened and closed within one critical section.
    close: async () => {},
  };
  return createCoordinator(driver, { prefix: resolved.prefix });
}
