/**
 * @lockstep/postgres — lockstep over PostgreSQL: session advisory locks on pinned
 * connections, fencing tokens bumped in the same statement, waiting in the server's lock queue,
 * loss detection, and bounded counters.
 *
 * ```ts
 * import { connect } from '@lockstep/core';
 * import '@lockstep/postgres'; // registers postgres:// and postgresql://
 *
 * const coord = await connect('postgres://app@db.internal/app?schema=locks');
 * ```
 *
 * Or over your own pool: `postgresCoordinator(pool)`. See the README for the per-session lease
 * and why transaction-mode poolers (PgBouncer) are refused.
 * @packageDocumentation
 */
import { registerAdapter } from '@lockstep/core/driver';
import { connectFromUrl } from './coordinator.js';

export { POSTGRES_CAPABILITIES, POSTGRES_MIN_TTL_MS } from './capabilities.js';
export { postgresCoordinator } from './coordinator.js';
export { type AdvisoryKey, advisoryKeyOf, parseNative } from './keys.js';
export type { PostgresAdapterOptions, PostgresConnectOptions } from './options.js';
export { migrate, schemaStatements } from './schema.js';

registerAdapter({
  schemes: ['postgres', 'postgresql'],
  packageName: '@lockstep/postgres',
  connect: connectFromUrl,
});
