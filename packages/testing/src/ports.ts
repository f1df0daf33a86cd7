/**
 * Free loopback ports for servers we start.
 *
 * Ports come from 15000–32767, below Linux's ephemeral range (32768–60999), so an outgoing
 * client connection can never be sitting on the port a server needs again after `restart()`.
 * A port is handed out once per process; another process can still take it between our check
 * and the server's bind, which is why starting retries with fresh ports when a bind fails.
 * @module
 */
import { createServer } from 'node:net';

const LOW = 15_000;
const HIGH = 32_767;
const handedOut = new Set<number>();

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port on `host` that nothing listens on now and that this process has not handed out before. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canBind(port, host)) return port;
  }
  throw new Error(`no free port found on ${host} in ${LOW}-${HIGH} after 200 attempts`);
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort(host));
  return ports;
}
