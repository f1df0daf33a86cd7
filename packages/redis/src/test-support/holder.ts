/**
 * A lock holder in its own process, for pause/kill tests. Usage:
 *   holder.ts URL NAME TTL_MS
 * Prints one JSON line when it holds the lock (`{"token": "…"}`; null on fencing `none`), and
 * one when its handle's signal aborts (`{"lost": reason}`), then exits.
 */
import { connect, type LockLostError } from '@lockstep/core';
import '../index.js';

const [url, name, ttl] = process.argv.slice(2);
const coord = await connect(url!);
const handle = await coord.lock(name!, { ttlMs: Number(ttl) }).acquire();
const token = coord.capabilities.lock.fencing === 'monotonic' ? String(handle.fencingToken) : null;
process.stdout.write(`${JSON.stringify({ token })}\n`);
handle.signal.addEventListener('abort', () => {
  const reason = (handle.signal.reason as LockLostError).reason;
  process.stdout.write(`${JSON.stringify({ lost: reason })}\n`);
  void coord.close().then(() => process.exit(0));
});
