/**
 * `@lockstep/core/driver` — what adapters are built from. An adapter implements a
 * {@link BackendDriver} (a few backend operations) and hands it to {@link createCoordinator},
 * which supplies validation, handles, renewal, loss signals, waiting, coalescing and close;
 * the recipes (sessions with a trust window, ordered-queue waits, background retries,
 * remembered-state CAS counters) are the algorithms several backends share.
 *
 * Applications use `@lockstep/core`; nothing here is needed to take a lock.
 * @packageDocumentation
 */

export { abortPromise, linkSignals, sleep } from './abort.js';
export {
  applyDelta,
  type CasState,
  type CounterBounds,
  casAdd,
  casAddRemembered,
  effectiveBounds,
  parseCounterValue,
} from './bounds.js';
export { AddCoalescer } from './coalesce.js';
export {
  type CreateCoordinatorOptions,
  createCoordinator,
  DEFAULT_PREFIX,
  DEFAULT_TTL_MS,
  LATE_GRANT_MARGIN,
  resourceRef,
} from './coordinator.js';
export type * from './driver.js';
export { formatHost, type UrlHost, urlHosts } from './hosts.js';
export { holdProcessOpen } from './keepalive.js';
export { normaliseTtl } from './lease.js';
export { LossFlag, type LossNotice } from './loss.js';
export { decodeName, encodeName, hash64 } from './names.js';
export { ReleaseHub, type ReleaseHubHooks } from './notify.js';
export { closestName, optionNames, rejectUnknownOptions } from './option-names.js';
export { jitter, randomOwnerId } from './random.js';
export * from './recipes/index.js';
export { type AdapterRegistration, queryOptions, registerAdapter } from './registry.js';
export {
  validateAmount,
  validateBoolean,
  validateSafeInteger,
  validateTimeoutMs,
  validateTtl,
  validateWaitMs,
} from './validate.js';
export { POLLED_RECHECK, type RecheckPolicy, WATCHED_RECHECK } from './wait.js';
