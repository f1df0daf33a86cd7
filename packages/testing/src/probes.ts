/**
 * Readiness probes: one real protocol request per kind. A server is ready when it answers the
 * way a client needs, not when its port accepts connections (ZooKeeper accepts connections and
 * answers "not currently serving requests" for a while; etcd's port is open before it has a
 * leader; PostgreSQL refuses queries while "starting up").
 *
 * Every probe resolves on success and throws with what it saw otherwise; none waits longer
 * than its timeout.
 * @module
 */
import { request } from 'node:http';
import { connect } from 'node:net';

const DEFAULT_TIMEOUT_MS = 2_000;

/** Sends `payload` on a fresh TCP connection and collects the reply until the server closes or `done` says so. */
export function tcpExchange(
  host: string,
  port: number,
  payload: string,
  done: (received: string) => boolean,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    let settled = false;
    const socket = connect({ host, port });
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(received);
    };
    socket.setTimeout(timeoutMs, () =>
      finish(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`)),
    );
    socket.once('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      if (done(received)) finish();
    });
    socket.once('end', () => finish());
    socket.once('error', (error) => finish(error));
  });
}

/** Redis: `PING` in RESP over a raw socket must return `+PONG` (not `-LOADING`, not an error). */
export async function probeRedis(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const reply = await tcpExchange(host, port, '*1\r\n$4\r\nPING\r\n', (r) => r.includes('\r\n'), timeoutMs);
  if (!reply.startsWith('+PONG')) throw new Error(`redis answered PING with ${JSON.stringify(reply.trim())}`);
}

/** ZooKeeper: the `srvr` four-letter word must report a serving mode (standalone, leader, follower). */
export async function probeZooKeeper(
  host: string,
  port: number,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<string> {
  const reply = await tcpExchange(host, port, 'srvr', () => false, timeoutMs);
  const mode = /^Mode: (\w+)/m.exec(reply)?.[1];
  if (mode === undefined) throw new Error(`zookeeper answered srvr with ${JSON.stringify(reply.trim())}`);
  return mode;
}

/** GET `path` over HTTP/1.1 and return status and body. */
export function httpGet(
  host: string,
  port: number,
  path: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', reject);
    });
    req.once('timeout', () =>
      req.destroy(new Error(`no HTTP reply from ${host}:${port}${path} within ${timeoutMs} ms`)),
    );
    req.once('error', reject);
    req.end();
  });
}

/** etcd: `GET /health` must say `{"health":"true"}`, which needs an elected leader. */
export async function probeEtcd(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const { status, body } = await httpGet(host, port, '/health', timeoutMs);
  let healthy = false;
  try {
    healthy = (JSON.parse(body) as { health?: unknown }).health === 'true';
  } catch {}
  if (status !== 200 || !healthy) throw new Error(`etcd /health answered ${status} ${body.trim()}`);
}

/** Consul (agent or emulator): `GET /v1/status/leader` must name a leader. */
export async function probeConsul(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const { status, body } = await httpGet(host, port, '/v1/status/leader', timeoutMs);
  let leader: unknown;
  try {
    leader = JSON.parse(body);
  } catch {}
  if (status !== 200 || typeof leader !== 'string' || leader === '') {
    throw new Error(`consul /v1/status/leader answered ${status} ${body.trim()}`);
  }
}

/** PostgreSQL: connect with `pg` and run `SELECT 1`. */
export async function probePostgres(url: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  // A refused connection can also surface as an 'error' event; the awaited calls report it.
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await client.query<{ one: number }>('SELECT 1 AS one');
    if (result.rows[0]?.one !== 1)
      throw new Error(`postgres answered SELECT 1 with ${JSON.stringify(result.rows)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** TCP connect only: used for servers given by URL, whose protocol details (auth, TLS) are not ours. */
export function probeTcp(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`${host}:${port} did not accept a connection within ${timeoutMs} ms`));
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}
