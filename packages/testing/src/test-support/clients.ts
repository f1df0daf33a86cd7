/**
 * Minimal protocol clients for this package's own tests: each proves a server answers on its URL
 * with a real request, independently of the readiness probes under test.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { parseHosts } from '../env-server.js';
import { httpGet } from '../probes.js';
import type { ServerHandle } from '../types.js';

/** One RESP command over a fresh connection; resolves with the raw reply line. */
export function redisCommand(url: string, args: string[], timeoutMs = 2_000): Promise<string> {
  const [{ host, port }] = parseHosts(url, 'redis') as [{ host: string; port: number }];
  const payload = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = '';
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no reply within ${timeoutMs} ms`));
    });
    socket.once('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.endsWith('\r\n')) {
        socket.destroy();
        resolve(reply.trim());
      }
    });
    socket.once('error', reject);
  });
}

/** A long-lived connection speaking RESP line by line: for tests that need the same socket across faults. */
export class RedisConnection {
  readonly socket: Socket;
  #buffer = '';
  #waiters: ((line: string) => void)[] = [];
  readonly closed: Promise<Error | undefined>;

  constructor(host: string, port: number) {
    this.socket = connect({ host, port });
    this.socket.on('data', (chunk) => {
      this.#buffer += chunk.toString();
      let index = this.#buffer.indexOf('\r\n');
      while (index !== -1) {
        const line = this.#buffer.slice(0, index);
        this.#buffer = this.#buffer.slice(index + 2);
        this.#waiters.shift()?.(line);
        index = this.#buffer.indexOf('\r\n');
      }
    });
    this.closed = new Promise((resolve) => {
      this.socket.once('error', (error) => resolve(error));
      this.socket.once('close', () => resolve(undefined));
    });
  }

  static async open(url: string): Promise<RedisConnection> {
    const [{ host, port }] = parseHosts(url, 'redis') as [{ host: string; port: number }];
    const connection = new RedisConnection(host, port);
    await new Promise<void>((resolve, reject) => {
      connection.socket.once('connect', resolve);
      connection.socket.once('error', reject);
    });
    return connection;
  }

  /** Sends a command; the promise resolves with the next reply line, whenever it comes. */
  send(...args: string[]): Promise<string> {
    const reply = new Promise<string>((resolve) => this.#waiters.push(resolve));
    this.socket.write(
      `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
    );
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Resolves with `value`, or with 'timeout' after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function httpJson(
  host: string,
  port: number,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  return fetch(`http://${host}:${port}${path}`, {
    method,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  }).then(async (res) => ({ status: res.status, body: await res.text() }));
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** etcd v3 put through the JSON gateway on any node of `url`, each try bounded by `timeoutMs`. */
export async function etcdPut(url: string, key: string, value: string, timeoutMs = 5_000): Promise<void> {
  const errors: string[] = [];
  for (const { host, port } of parseHosts(url, 'etcd')) {
    try {
      const res = await httpJson(
        host,
        port,
        'POST',
        '/v3/kv/put',
        { key: b64(key), value: b64(value) },
        timeoutMs,
      );
      if (res.status === 200) return;
      errors.push(`${host}:${port} ${res.status} ${res.body}`);
    } catch (error) {
      errors.push(`${host}:${port} ${(error as Error).message}`);
    }
  }
  throw new Error(`etcd put failed on every node: ${errors.join('; ')}`);
}

export async function etcdGet(url: string, key: string): Promise<string | undefined> {
  const [{ host, port }] = parseHosts(url, 'etcd') as [{ host: string; port: number }];
  const res = await httpJson(host, port, 'POST', '/v3/kv/range', { key: b64(key) });
  if (res.status !== 200) throw new Error(`etcd range answered ${res.status} ${res.body}`);
  const kvs = (JSON.parse(res.body) as { kvs?: { value: string }[] }).kvs;
  return kvs?.[0] ? Buffer.from(kvs[0].value, 'base64').toString() : undefined;
}

/** etcd member id of the current leader, as seen by the node at `url`. */
export async function etcdStatus(host: string, port: number): Promise<{ leader: string; memberId: string }> {
  const res = await httpJson(host, port, 'POST', '/v3/maintenance/status', {});
  const body = JSON.parse(res.body) as { leader: string; header: { member_id: string } };
  return { leader: body.leader, memberId: body.header.member_id };
}

export async function consulPut(url: string, key: string, value: string): Promise<boolean> {
  const [{ host, port }] = parseHosts(url, 'consul') as [{ host: string; port: number }];
  const res = await httpJson(host, port, 'PUT', `/v1/kv/${key}`, value);
  return res.body.trim() === 'true';
}

export async function consulGet(url: string, key: string): Promise<string | undefined> {
  const [{ host, port }] = parseHosts(url, 'consul') as [{ host: string; port: number }];
  const res = await httpGet(host, port, `/v1/kv/${key}?raw`);
  return res.status === 200 ? res.body : undefined;
}

export async function postgresQuery<T>(url: string, sql: string): Promise<T[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

interface ZkClient {
  connect(): void;
  close(): void;
  once(event: 'connected', listener: () => void): void;
  create(path: string, data: Buffer, callback: (error: Error | null, path: string) => void): void;
  getData(path: string, callback: (error: Error | null, data: Buffer) => void): void;
}
interface ZkModule {
  createClient(connectionString: string, options?: { sessionTimeout?: number; retries?: number }): ZkClient;
}

const zookeeper = createRequire(import.meta.url)('node-zookeeper-client') as ZkModule;

/** Connects to every host of a zookeeper:// URL, creates `path` with `data`, reads it back, closes. */
export async function zookeeperCreateAndRead(
  url: string,
  path: string,
  data: string,
  timeoutMs = 20_000,
): Promise<string> {
  const connectionString = parseHosts(url, 'zookeeper')
    .map((h) => `${h.host}:${h.port}`)
    .join(',');
  const client = zookeeper.createClient(connectionString, { sessionTimeout: 10_000, retries: 10 });
  try {
    const work = new Promise<string>((resolve, reject) => {
      client.once('connected', () => {
        client.create(path, Buffer.from(data), (error) => {
          if (error) return reject(error);
          client.getData(path, (readError, value) =>
            readError ? reject(readError) : resolve(value.toString()),
          );
        });
      });
    });
    client.connect();
    const result = await within(work, timeoutMs);
    if (result === 'timeout')
      throw new Error(`zookeeper create ${path} did not finish within ${timeoutMs} ms`);
    return result;
  } finally {
    client.close();
  }
}

/** True while nothing of this handle is left: its process is gone and its temp dir removed. */
export function leftovers(handle: ServerHandle, alive: (pid: number) => boolean): string[] {
  const found: string[] = [];
  if (handle.pid !== undefined && alive(handle.pid)) found.push(`process ${handle.pid} still runs`);
  if (handle.dataDir !== undefined && existsSync(handle.dataDir))
    found.push(`${handle.dataDir} still exists`);
  if (handle.logPath !== undefined && existsSync(handle.logPath))
    found.push(`${handle.logPath} still exists`);
  return found;
}
