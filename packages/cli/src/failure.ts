/**
 * Any failure as one line with the fix, and the exit code it maps to.
 * @module
 */
import { LockstepError } from '@lockstep/core';
import { UsageError } from './args.js';
import { EXIT_UNAVAILABLE, EXIT_USAGE } from './exit-codes.js';

/** The exit code and the line for `error`. */
export function describeFailure(error: unknown): { code: number; line: string } {
  if (error instanceof UsageError) return { code: EXIT_USAGE, line: error.message };
  if (error instanceof LockstepError) {
    const code =
      error.code === 'INVALID_ARGUMENT' || error.code === 'ADAPTER_NOT_INSTALLED'
        ? EXIT_USAGE
        : EXIT_UNAVAILABLE;
    return { code, line: error.message };
  }
  return { code: EXIT_UNAVAILABLE, line: error instanceof Error ? error.message : String(error) };
}
