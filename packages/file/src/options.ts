/**
 * Options of `connect('file:///abs/dir', options)` and of `connectFile(dir, options)`, also
 * accepted as URL query parameters (`?prefix=app`). Checked before anything is touched.
 * @module
 */
import { type ConnectOptions, InvalidArgumentError, validateName } from '@lockstep/core';
import { optionNames, rejectUnknownOptions, validateBoolean } from '@lockstep/core/driver';

/** Options of {@link connectFile}. */
export interface FileConnectOptions extends ConnectOptions {
  /**
   * Use a directory on a network file system anyway. flock and the host's monotonic clock
   * do not reach across machines: only set this when every process runs on one host.
   */
  allowNetworkFileSystem?: boolean;
}

declare module '@lockstep/core' {
  /** `connect('file:///abs/dir', options)` takes {@link FileConnectOptions}. */
  interface ConnectOptionsByScheme {
    file: FileConnectOptions;
  }
}

/** Every option name of {@link FileConnectOptions}; anything else is rejected. */
export const FILE_OPTION_NAMES = optionNames<FileConnectOptions>()([
  'prefix',
  'connectTimeoutMs',
  'allowNetworkFileSystem',
]);

/** Validated, defaulted options. */
export interface ResolvedOptions {
  readonly prefix: string;
  readonly allowNetworkFileSystem: boolean;
}

/** @throws InvalidArgumentError for a malformed or unknown option. */
export function resolveOptions(options: FileConnectOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  rejectUnknownOptions(options, FILE_OPTION_NAMES, 'file:// options');
  return {
    prefix: options.prefix === undefined ? 'lockstep' : validateName(options.prefix, 'prefix'),
    allowNetworkFileSystem: validateBoolean(options.allowNetworkFileSystem, 'allowNetworkFileSystem', false),
  };
}
