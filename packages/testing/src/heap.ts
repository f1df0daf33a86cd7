/**
 * Heap figures for load tests ("bytes per held lock"): garbage collected first, so the figure is
 * what is still reachable, not what happens to be uncollected yet.
 * @module
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/** `process.memoryUsage().heapUsed` after two full garbage collections. */
export function heapAfterGc(): number {
  if (!gc) {
    // A test runner's worker is not started with --expose-gc; the flag still exposes `gc` to
    // contexts created after it is set.
    setFlagsFromString('--expose_gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
