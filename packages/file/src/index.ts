/**
 * @lockstep/file — `file:///abs/dir`: locks and counters shared by the processes of one
 * host through a local directory. No server; safe only on a local file system.
 * @packageDocumentation
 */
import { fileURLToPath } from 'node:url';
import {
  type BackendDriver,
  type Capabilities,
  type ConnectOptions,
  type Coordinator,
  createCoordinator,
  encodeName,
  InvalidArgumentError,
  registerAdapter,
  validateName,
} from '@lockstep/core';
import { fileCounters } from './counters.js';
import { loadLockBinding } from './flock.js';
import { Layout, prepareRoot } from './layout.js';
import { FileLocks } from './locks.js';

/** What file:// guarantees. */
export const FILE_CAPABILITIES: Capabilities = {
  lock: {
    // Tokens live in the lock file and only grow; they survive process crashes (not the
    // loss of the file system itself).
    fencing: 'monotonic',
    lease: 'per-lock',
    minTtlMs: 50,
    ttlGranularityMs: 1,
    waiting: 'notify',
    // Waiters hold tickets in the lock record and are granted in arrival order, across processes.
    fairness: 'fifo',
    faultTolerance: 'single-node',
  },
  counter: { supported: true, bounds: true },
};

/** Options of {@link connectFile}. */
export interface FileConnectOptions extends ConnectOptions {
  /**
   * Use a directory on a network file system anyway. flock and the host's monotonic clock
   * do not reach across machines: only set this when every process runs on one host.
   */
  allowNetworkFileSystem?: boolean;
}

/**
 * A coordinator over directory `dir` (absolute; created if missing).
 * @throws BackendUnavailableError when the native file-lock binding cannot be loaded.
 */
export function connectFile(dir: string, options: FileConnectOptions = {}): Coordinator {
  loadLockBinding();
  const root = prepareRoot(dir, options.allowNetworkFileSystem === true);
  const prefix = options.prefix === undefined ? 'lockstep' : validateName(options.prefix, 'prefix');
  const layout = new Layout(root, encodeName(prefix));
  const locks = new FileLocks(layout);
  const driver: BackendDriver = {
    backend: 'file',
    capabilities: FILE_CAPABILITIES,
    locks,
    counters: fileCounters(layout),
    close: async () => locks.close(),
  };
  return createCoordinator(driver, { prefix });
}

registerAdapter({
  schemes: ['file'],
  packageName: '@lockstep/file',
  async connect(url, options) {
    if (url.host !== '' && url.host !== 'localhost') {
      throw new InvalidArgumentError(
        'url',
        `file:// locks are local: use file:///abs/dir, not host "${url.host}"`,
      );
    }
    const dir = fileURLToPath(new URL(`file://${url.pathname}`));
    return connectFile(dir, options as FileConnectOptions);
  },
});
