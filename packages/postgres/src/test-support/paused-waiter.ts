/**
 * A waiter in its own process, for the paused-waiter test: `node paused-waiter.ts URL PREFIX NAME TTL_MS`.
 *
 * It prints `{"event":"waiting"}`, waits for NAME, and prints what its acquire settled with:
 * `{"event":"granted","token":…,"aborted":…,"held":…}` or `{"event":"rejected","error":…}`.
 * The parent SIGSTOPs it while it waits, lets the grant happen and pass, then resumes it.
 * @module
 */
import { connect } from '@lockstep/core';
import '../index.js';

const [url = '', prefix = '', name = '', ttl = '1000'] = process.argv.slice(2);

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const coordinator = await connect(url, { prefix });
const lock = coordinator.lock(name, { ttlMs: Number(ttl) });
emit({ event: 'waiting', pid: process.pid });
try {
  const handle = await lock.acquire({ waitMs: 60_000 });
  const aborted = handle.signal.aborted;
  const held = await handle.isHeld().catch(() => false);
  emit({ event: 'granted', token: handle.fencingToken.toString(), aborted, held });
  await handle.release().catch(() => {});
} catch (error) {
  emit({ event: 'rejected', error: (error as Error).message });
}
await coordinator.close();
