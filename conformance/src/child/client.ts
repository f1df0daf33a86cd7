/**
 * A lockstep client in its own process, for the tests that need a holder the parent can
 * SIGKILL, SIGSTOP, or watch exit: `node client.js '<ChildOptions JSON>'`.
 *
 * - `hold`: acquires `names[0]` (a lock, or a permit of it as a semaphore; renewing), prints `acquired` with its token, prints `lost`
 *   when `handle.signal` aborts (then `released` with what `release()` returned), and obeys
 *   `release` / `exit` commands on stdin.
 * - `close`: acquires two locks, starts a wait that cannot be granted, increments a counter,
 *   prints `ready`, calls `coordinator.close()` and prints `closed` — and then does nothing:
 *   the process must exit on its own, which proves close() left no timer or socket behind.
 * - `wait`: prints `ready`, waits for `go`, then does one acquire of a lock someone else holds
 *   and nothing else; prints `granted` or `rejected`, closes, and returns.
 * @module
 */
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { type Coordinator, connect } from '@lockstep/core';
import type { ChildCommand, ChildEvent, ChildOptions } from './protocol.js';

function emit(event: ChildEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** Imports the adapter: by name from here, else by name from the working directory, or by path. */
async function importAdapter(specifier: string): Promise<void> {
  if (specifier.startsWith('file:')) {
    await import(specifier);
    return;
  }
  if (isAbsolute(specifier)) {
    await import(pathToFileURL(specifier).href);
    return;
  }
  try {
    await import(specifier);
  } catch (error) {
    const fromCwd = createRequire(join(process.cwd(), 'package.json'));
    let resolved: string;
    try {
      resolved = fromCwd.resolve(specifier);
    } catch {
      throw error;
    }
    await import(pathToFileURL(resolved).href);
  }
}

function tokenOf(read: () => bigint): string | null {
  try {
    return read().toString();
  } catch {
    // fencing: 'none' backends throw UnsupportedError here.
    return null;
  }
}

async function hold(coordinator: Coordinator, options: ChildOptions): Promise<void> {
  const name = options.names[0]!;
  const leadership =
    options.electionValue === undefined
      ? undefined
      : await coordinator
          .election(name, { ttlMs: options.ttlMs })
          .campaign({ value: options.electionValue, waitMs: 60_000 });
  const handle = leadership
    ? { signal: leadership.signal, fencingToken: leadership.term, release: () => leadership.resign() }
    : await (options.semaphorePermits === undefined
        ? coordinator.lock(name, { ttlMs: options.ttlMs })
        : coordinator.semaphore(name, { permits: options.semaphorePermits, ttlMs: options.ttlMs })
      ).acquire({ waitMs: 60_000 });
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    emit({ event: 'released', result: await handle.release().catch(() => false), at: Date.now() });
  };
  handle.signal.addEventListener(
    'abort',
    () => {
      const code = (handle.signal.reason as { code?: unknown } | undefined)?.code;
      emit({ event: 'lost', code: typeof code === 'string' ? code : null, at: Date.now() });
      void release();
    },
    { once: true },
  );
  emit({ event: 'acquired', token: tokenOf(() => handle.fencingToken), at: Date.now() });

  const commands = createInterface({ input: process.stdin });
  for await (const line of commands) {
    const command = line.trim() as ChildCommand;
    if (command === 'release') await release();
    if (command === 'exit') break;
    if (command.startsWith('proclaim:') && leadership) {
      const outcome = await leadership.proclaim(command.slice('proclaim:'.length)).then(
        () => ({ ok: true, code: null }),
        (error: { code?: unknown }) => ({
          ok: false,
          code: typeof error?.code === 'string' ? error.code : null,
        }),
      );
      emit({ event: 'proclaimed', ...outcome, at: Date.now() });
    }
  }
  commands.close();
  await coordinator.close();
  process.exit(0);
}

async function closeAndReturn(coordinator: Coordinator, options: ChildOptions): Promise<void> {
  const [renewed, lease] = options.names as [string, string];
  await coordinator.lock(renewed, { ttlMs: options.ttlMs }).acquire({ waitMs: 60_000 });
  await coordinator.lock(lease, { autoExtend: false }).acquire({ waitMs: 60_000 });
  // Not reentrant: this waits on our own lock until close() cancels it.
  const pending = coordinator.lock(renewed).acquire();
  let waitRejected = false;
  const settled = pending.then(
    (handle) => handle.release(),
    () => {
      waitRejected = true;
    },
  );
  if (options.counter !== undefined) await coordinator.counter(options.counter).increment();
  emit({ event: 'ready', at: Date.now() });
  await coordinator.close();
  await settled;
  emit({ event: 'closed', waitRejected, at: Date.now() });
  // Deliberately no process.exit(): the parent checks that the process ends by itself.
}

/**
 * One acquire that waits, in a process with nothing else to do: once `go` arrives stdin is
 * let go, and from then on only the pending acquire can keep the process alive. It prints
 * how the acquire ended, closes, and returns — the parent checks that the process neither
 * ended before the acquire settled nor stayed after it.
 */
async function waitAlone(coordinator: Coordinator, options: ChildOptions): Promise<void> {
  const scenario = options.wait!;
  const name = options.names[0]!;
  let holder: Coordinator | undefined;
  if (scenario.holder === 'child') {
    holder = await connect(options.url);
    await holder
      .lock(name, { ttlMs: options.ttlMs, autoExtend: scenario.ends !== 'lease' })
      .acquire({ waitMs: 60_000 });
  }
  emit({ event: 'ready', at: Date.now() });
  const commands = createInterface({ input: process.stdin });
  for await (const line of commands) if (line.trim() === 'go') break;
  commands.close();
  process.stdin.destroy();

  const lock = coordinator.lock(name, { ttlMs: options.ttlMs });
  try {
    const handle = await lock.acquire(
      scenario.ends === 'waitMs'
        ? { waitMs: scenario.timeoutMs }
        : scenario.ends === 'signal'
          ? { signal: AbortSignal.timeout(scenario.timeoutMs) }
          : {},
    );
    emit({ event: 'granted', token: tokenOf(() => handle.fencingToken), at: Date.now() });
    await handle.release();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason = typeof code === 'string' ? code : ((error as Error).name ?? String(error));
    emit({ event: 'rejected', reason, at: Date.now() });
  }
  await coordinator.close();
  await holder?.close();
  // No process.exit(): the parent checks that the process ends by itself.
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
  await importAdapter(options.adapterModule);
  const coordinator = await connect(options.url);
  if (options.mode === 'hold') await hold(coordinator, options);
  else if (options.mode === 'wait') await waitAlone(coordinator, options);
  else await closeAndReturn(coordinator, options);
}

main().catch((error: unknown) => {
  emit({
    event: 'error',
    message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    at: Date.now(),
  });
  process.exit(1);
});
