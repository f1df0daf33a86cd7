/**
 * @lockstep/file — `file:///abs/dir`: locks, semaphores, read-write locks, elections and counters
 * shared by the processes of one host through a local directory. No server; safe only on a local
 * file system.
 * @packageDocumentation
 */
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@lockstep/core';
import { registerAdapter } from '@lockstep/core/driver';
import { connectFile } from './coordinator.js';
import type { FileConnectOptions } from './options.js';

export { FILE_CAPABILITIES } from './capabilities.js';
export { connectFile } from './coordinator.js';
export type { FileConnectOptions } from './options.js';

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
