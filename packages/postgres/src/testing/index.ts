/**
 * `@lockstep/postgres/testing`: what compare tools use to exercise PostgreSQL beyond the
 * conformance suite — the `postgres://` profile (provisioning into a schema of the run's own,
 * server version, cleanup, benchmark floors and the advisory-lock peer), the interop
 * scenarios against plain SQL advisory locks and `psql`, and the raw client they share.
 * Needs `@lockstep/conformance` installed (and `advisory-lock` for that peer).
 * @packageDocumentation
 */
export { POSTGRES_INTEROP } from './interop.js';
export { POSTGRES_TEST_TTL_MS, postgresProfile } from './profile.js';
export { connectionStringOf, postgresVersion, rawClient, runSchema, schemaOf } from './raw.js';
