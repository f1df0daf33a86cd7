/**
 * @lockstep/core — one API for distributed locks and counters.
 *
 * ```ts
 * import { connect } from '@lockstep/core';
 * const coord = await connect(process.env.LOCKSTEP_URL ?? 'memory://');
 * await coord.lock('invoice:42').withLock(async (held) => work(held.signal));
 * ```
 * @packageDocumentation
 */

export { abortPromise, sleep } from './abort.js';
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
  resourceRef,
} from './coordinator.js';
// Adapter toolkit: the shared machinery every adapter builds on.
export type * from './driver.js';
export * from './errors.js';
export type * from './events.js';
export { eventChannelName } from './events.js';
export { formatHost, type UrlHost, urlHosts } from './hosts.js';
export { normaliseTtl } from './lease.js';
export { LossFlag, type LossNotice } from './loss.js';
export { connectMemory, MEMORY_CAPABILITIES } from './memory/index.js';
export { decodeName, encodeName, hash64, MAX_NAME_BYTES, validateName } from './names.js';
export { ReleaseHub, type ReleaseHubHooks } from './notify.js';
export { closestName, optionNames, rejectUnknownOptions } from './option-names.js';
export { jitter, randomOwnerId } from './random.js';
export {
  type AdapterRegistration,
  connect,
  KNOWN_SCHEMES,
  queryOptions,
  registerAdapter,
} from './registry.js';
export type * from './types.js';
export {
  MAX_TTL_MS,
  validateAmount,
  validateBoolean,
  validateSafeInteger,
  validateTimeoutMs,
  validateTtl,
  validateWaitMs,
} from './validate.js';
export { POLLED_RECHECK, type RecheckPolicy, WATCHED_RECHECK } from './wait.js';
