/**
 * Checkers that turn recorded histories into verdicts: mutual exclusion of locks (with
 * fencing-token order), at most K holders of a semaphore, and linearizability of counters.
 * @module
 */

export {
  type AddOperation,
  type BoundFailure,
  type CompareAndSetOperation,
  type CounterHistoryEntry,
  type CounterModel,
  type CounterOperation,
  describeOperation,
  type GetOperation,
  isBoundFailure,
  type SetOperation,
} from './counter-model.js';
export { InvalidHistoryError } from './errors.js';
export {
  checkCounterLinearizability,
  type LinearizabilityExplanation,
  type LinearizabilityOptions,
  type LinearizabilityResult,
} from './linearizability.js';
export {
  checkMutex,
  type HoldInterval,
  type MutexCheckOptions,
  type MutexCheckResult,
  MutexMonitor,
  type MutexMonitorOptions,
  type MutexViolation,
  type TokenViolation,
} from './mutex.js';
export { checkPermits, type PermitCheckResult, type PermitHold } from './permits.js';
