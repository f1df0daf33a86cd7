/**
 * A lock holder in its own process, for the paused-holder test: `node paused-holder.ts URL NAME TTL_MS`.
 *
 * It acquires NAME, prints `{"event":"acquired","token":…}`, then every 20 ms tries a write
 * guarded by its ownership (`If(create_revision(lock key) == token) Then put(fenced-data)`),
 * printing each attempt's outcome, until its handle's signal aborts: then it prints
 * `{"event":"lost",…}` and exits. The parent SIGSTOPs it past its lease in between.
 * @module
 */
import { connect, type LockHandle } from '@lockstep/core';
import { lockOwnership } from '../index.js';

const [url = '', name = '', ttl = '3000'] = process.argv.slice(2);

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const coordinator = await connect(url, { prefix: 'pause-test' });
const handle: LockHandle = await coordinator.lock(name, { ttlMs: Number(ttl) }).acquire();
const ownership = lockOwnership(coordinator, handle);
emit({ event: 'acquired', token: handle.fencingToken.toString() });

const { Etcd3 } = await import('etcd3');
const raw = new Etcd3({
  hosts: decodeURIComponent(url.replace('etcd://', ''))
    .split(',')
    .map((h) => `http://${h}`),
});
let stop = false;
handle.signal.addEventListener('abort', () => {
  stop = true;
  const reason = handle.signal.reason as Error;
  emit({ event: 'lost', at: Date.now(), reason: reason?.message });
});
while (!stop) {
  const at = Date.now();
  try {
    const res = await raw.kv.txn({
      compare: [ownership.compare],
      success: [
        {
          request_put: {
            key: Buffer.from('pause-test/fenced-data'),
            value: Buffer.from(`zombie ${handle.fencingToken}`),
          },
        },
      ],
      failure: [],
    });
    emit({ event: 'write', at, succeeded: res.succeeded });
  } catch (error) {
    emit({ event: 'write', at, error: (error as Error).message });
  }
  await new Promise((r) => setTimeout(r, 20));
}
raw.close();
await handle.release().catch(() => {});
await coordinator.close();
