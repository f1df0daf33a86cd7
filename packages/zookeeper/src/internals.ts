/**
 * The only place that touches node-zookeeper-client's internals (its connection manager and
 * socket), each use with a fallback when they are missing (another version):
 *
 * - {@link corked}: requests issued together leave in one socket write. The client writes each
 *   request with its own `socket.write` (one syscall and, with Nagle off, one TCP segment
 *   each); an acquire's create and queue listing go out as one.
 * - {@link closeClient}: closing a client lockstep owns so that nothing of it survives: no
 *   socket, no reconnect loop, no timer keeping the process alive.
 *
 * `client.close()` alone is not enough with node-zookeeper-client 1.1: it sends
 * closeSession and waits for the server to drop the connection, which never happens when the
 * server is silent (a paused process, a black-holed network); and a reconnect attempt that was
 * already scheduled can open a new socket after the close and, finding the client CLOSED,
 * reconnect forever. So after a grace period the socket is destroyed and the connection
 * manager's `connect` is disarmed.
 * @module
 */
import type { Socket } from 'node:net';
import type { ZooKeeperClient } from './raw.js';

/** The connection manager's states (node-zookeeper-client's ConnectionManager.STATES). */
const ManagerState = { CONNECTED: 2, CLOSING: -1, CLOSED: -2 } as const;

interface ConnectionManagerInternals {
  state?: number;
  socket?: Socket;
  connectTimeoutHandler?: NodeJS.Timeout | null;
  connect?: () => void;
  on(event: 'state', listener: (state: number) => void): unknown;
  removeListener(event: 'state', listener: (state: number) => void): unknown;
}

function managerOf(client: ZooKeeperClient): ConnectionManagerInternals | undefined {
  const manager = (client as unknown as { connectionManager?: ConnectionManagerInternals }).connectionManager;
  return manager && typeof manager.on === 'function' ? manager : undefined;
}

/**
 * Runs `issue` (which sends requests synchronously) with the client's socket corked, so what
 * it sends leaves in one write. Returns what `issue` returns.
 */
export function corked<T>(client: ZooKeeperClient, issue: () => T): T {
  const socket = managerOf(client)?.socket;
  if (!socket || typeof socket.cork !== 'function' || socket.destroyed) return issue();
  socket.cork();
  try {
    return issue();
  } finally {
    socket.uncork();
  }
}

/**
 * Closes `client` (sending closeSession when connected, so the server deletes its ephemeral
 * nodes at once), waits up to `graceMs` for the server to end the connection, then tears
 * it down. Never throws.
 */
export async function closeClient(client: ZooKeeperClient, graceMs: number): Promise<void> {
  const manager = managerOf(client);
  if (!manager) {
    try {
      client.close();
    } catch {}
    return;
  }
  const disarm = () => {
    manager.connect = () => {};
    if (manager.connectTimeoutHandler) clearTimeout(manager.connectTimeoutHandler);
    manager.socket?.destroy();
  };
  if (manager.state === ManagerState.CLOSED) return disarm();
  const graceful = manager.state === ManagerState.CONNECTED;
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      manager.removeListener('state', onState);
      disarm();
      resolve();
    };
    const onState = (state: number) => {
      if (state === ManagerState.CLOSED) finish();
    };
    manager.on('state', onState);
    try {
      if (manager.state !== ManagerState.CLOSING) client.close();
    } catch {}
    timer = setTimeout(finish, graceful ? graceMs : 0);
  });
}
