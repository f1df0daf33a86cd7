/**
 * One worker: acquire the lock, write to the ledger with the fencing token, bump the
 * counter, release — `rounds` times. Runs as its own process (IPC to the parent) or, for
 * memory://, as an async task in the parent.
 */
import { connect } from '@lockstep/core';
import { loadAdapterFor } from './adapters.js';
import type { LedgerReply, ParentMessage, WorkerEvent, WorkerOptions } from './protocol.js';

export interface WorkerPort {
  send(event: WorkerEvent): void;
  /** Resolves when every worker is ready, so that all contend from the first round. */
  started(): Promise<void>;
  /** Sends a ledger write and waits for the ledger's verdict. */
  write(event: Extract<WorkerEvent, { type: 'write' }>): Promise<LedgerReply>;
}

export async function runWorker(options: WorkerOptions, port: WorkerPort): Promise<void> {
  const { worker } = options;
  await loadAdapterFor(options.url);
  const coord = await connect(options.url);
  try {
    const lock = coord.lock(options.lockName, { ttlMs: options.ttlMs });
    const counter = coord.counter(options.counterName);
    port.send({ type: 'ready', worker });
    await port.started();
    for (let round = 0; round < options.rounds; round++) {
      const t0 = performance.now();
      const held = await lock.acquire();
      const token = held.fencingToken.toString();
      held.signal.addEventListener('abort', () =>
        port.send({ type: 'lost', worker, token, reason: String((held.signal.reason as Error).message) }),
      );
      port.send({ type: 'acquired', worker, token, waitedMs: performance.now() - t0 });
      await new Promise((r) => setTimeout(r, options.holdMs));
      // A real critical section would check held.signal here; the ledger must not rely on it.
      await port.write({ type: 'write', worker, token, note: `round ${round + 1}` });
      if (!held.signal.aborted) {
        port.send({ type: 'incremented', worker, value: await counter.increment() });
      }
      port.send({ type: 'releasing', worker, token });
      await held.release();
    }
    port.send({ type: 'done', worker });
  } catch (error) {
    port.send({ type: 'error', worker, message: (error as Error).message });
  } finally {
    await coord.close();
  }
}

// Entry point when spawned as a child process.
if (process.send && process.argv[2] === '--worker') {
  const options = JSON.parse(process.argv[3]!) as WorkerOptions;
  const pending: Array<(reply: LedgerReply) => void> = [];
  let start: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    start = resolve;
  });
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'start') start();
    else pending.shift()?.(message);
  });
  const port: WorkerPort = {
    send: (event) => process.send!(event),
    started: () => started,
    write: (event) =>
      new Promise((resolve) => {
        pending.push(resolve);
        process.send!(event);
      }),
  };
  runWorker(options, port).then(() => process.disconnect?.());
}
