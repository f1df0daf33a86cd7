/**
 * The README's capability table, generated from what each adapter declares, so the docs
 * cannot drift from the code (a test compares the two).
 * @module
 */
import { type Capabilities, MEMORY_CAPABILITIES } from '@lockstep/core';

/** Declared capabilities of every backend, in the README's order. */
export async function declaredCapabilities(): Promise<Array<[string, Capabilities]>> {
  const [file, redis, etcd, zookeeper, consul, postgres] = await Promise.all([
    import('@lockstep/file'),
    import('@lockstep/redis'),
    import('@lockstep/etcd'),
    import('@lockstep/zookeeper'),
    import('@lockstep/consul'),
    import('@lockstep/postgres'),
  ]);
  return [
    ['memory', MEMORY_CAPABILITIES],
    ['file', file.FILE_CAPABILITIES],
    ['redis', redis.REDIS_CAPABILITIES],
    ['redlock', redis.REDLOCK_CAPABILITIES],
    ['etcd', etcd.ETCD_CAPABILITIES],
    ['zookeeper', zookeeper.ZOOKEEPER_CAPABILITIES],
    ['consul (emulator-verified)', consul.CONSUL_CAPABILITIES],
    ['postgres', postgres.POSTGRES_CAPABILITIES],
  ];
}

function ttl(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** A primitive's cell: `no`, or `yes` with what differs from a plain lock. */
function primitiveCell(
  support: { supported: boolean } | undefined,
  details: (caps: never) => string[],
): string {
  if (!support?.supported) return 'no';
  const extra = details(support as never).filter(Boolean);
  return extra.length === 0 ? 'yes' : `yes (${extra.join(', ')})`;
}

/** The markdown table. */
export function renderCapabilityTable(rows: Array<[string, Capabilities]>): string {
  const lines = [
    '| backend | fencing | lease | min ttl / step | waiting | fairness | fault tolerance | counters | semaphores | read-write | elections |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [name, { lock, counter, semaphore, readWrite, election }] of rows) {
    const counters = counter.supported ? (counter.bounds ? 'yes, bounded' : 'yes') : 'no';
    const semaphores = primitiveCell(semaphore, (caps: { fairness: string; mismatch: string }) => [
      caps.fairness,
      `${caps.mismatch} on mismatch`,
    ]);
    const rw = primitiveCell(readWrite, (caps: { writerProgress: string }) => [
      caps.writerProgress === 'queued' ? 'writers not starved' : 'writers may starve',
    ]);
    const elections = primitiveCell(election, (caps: { vacancies: boolean }) => [
      caps.vacancies ? 'vacancies observed' : 'no vacancy events',
    ]);
    lines.push(
      `| ${name} | ${lock.fencing} | ${lock.lease} | ${ttl(lock.minTtlMs)} / ${ttl(lock.ttlGranularityMs)} | ${lock.waiting} | ${lock.fairness} | ${lock.faultTolerance} | ${counters} | ${semaphores} | ${rw} | ${elections} |`,
    );
  }
  return lines.join('\n');
}
