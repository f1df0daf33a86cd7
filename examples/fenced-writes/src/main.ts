/**
 * Fencing tokens guarding PostgreSQL writes.
 *   DATABASE_URL=postgres://postgres@127.0.0.1/postgres npm start
 *   (without DATABASE_URL a throwaway PostgreSQL is started with @lockstep/testing)
 *   LOCKSTEP_URL=etcd://127.0.0.1:2379 ... picks the lock backend (default memory://)
 */
import { startServer } from '@lockstep/testing';
import { runZombieScenario } from './scenario.js';

const lockUrl = process.env.LOCKSTEP_URL ?? 'memory://fenced-writes';
const server = process.env.DATABASE_URL ? undefined : await startServer('postgres');
try {
  const result = await runZombieScenario(lockUrl, process.env.DATABASE_URL ?? server!.url);
  process.exitCode = !result.zombieWrote && result.finalBody === 'written by B' ? 0 : 1;
} finally {
  await server?.stop();
}
