/**
 * Ending a statement that waits in PostgreSQL's lock queue on a waiting connection.
 * @module
 */
import { Backoff, sleep } from '@lockstep/core/driver';
import type { LockConnection } from './session.js';
import type { SessionSet } from './sessions.js';

/**
 * Cancels the waiting statement until it has settled. One cancel is not always enough: sent
 * while the statement is still on its way to the backend, it meets an idle backend and is
 * ignored — and the statement would wait for the lock forever. Each cancel completes (the
 * backend was signalled) before the next is sent or the connection is reused.
 */
export async function cancelUntilSettled(
  sessions: SessionSet,
  connection: LockConnection,
  waiting: Promise<unknown>,
): Promise<void> {
  let settled = false;
  const done = waiting.then(
    () => (settled = true),
    () => (settled = true),
  );
  const backoff = new Backoff(10, 200);
  while (!settled && !connection.ended) {
    await sessions.cancel(connection.pid);
    await Promise.race([done, sleep(backoff.next())]);
  }
}
