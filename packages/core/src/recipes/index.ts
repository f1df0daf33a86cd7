/**
 * The recipes several backends share. Each adapter plugs a small strategy into them; see
 * each module for the algorithm and its guarantees.
 * @module
 */
export {
  type CasCounterOps,
  type CasWrite,
  DEFAULT_REMEMBERED_COUNTERS,
  RememberedCounters,
} from './cas-counter.js';
export { Backoff, backendFailure, mapFailures, settleWithin, withTimeout } from './failures.js';
export { type QueuePosition, type QueueStep, type QueueStrategy, waitInQueue } from './queue.js';
export { everyHostRefused, type HostRefusal, type RefusalCheckOptions, refusedError } from './refusals.js';
export {
  Session,
  SessionLostError,
  type SessionMember,
  type SessionOptions,
  type SessionStrategy,
} from './session.js';
export { DEFAULT_IDLE_RETIRE_MS, SessionPool, type SessionPoolOptions } from './session-pool.js';
export { Sweeper, type SweeperOptions, type SweepOutcome, type SweepTask } from './sweeper.js';
