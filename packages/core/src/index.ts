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

export { DEFAULT_PREFIX, DEFAULT_TTL_MS } from './coordinator.js';
export * from './errors.js';
export type * from './events.js';
export { eventChannelName } from './events.js';
export { connectMemory, MEMORY_CAPABILITIES } from './memory/index.js';
export { MAX_NAME_BYTES, validateName } from './names.js';
export { connect, KNOWN_SCHEMES } from './registry.js';
export type * from './types.js';
export { MAX_TTL_MS } from './validate.js';
// Writing an adapter? Its toolkit is `@lockstep/core/driver`.
