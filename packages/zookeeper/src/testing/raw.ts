/**
 * The one raw node-zookeeper-client client of this package's tests and testing tools, its
 * calls as promises, recursive removal, and the server's version (`srvr`).
 * @module
 */
import { connect as connectTcp } from 'node:net';
import { createRawClient, type ZnodeStat, type ZooKeeperClient } from '../raw.js';

/** ZooKeeper's error codes the tools tell apart. */
export const ZK_NO_NODE = -101;
const ZK_NOT_EMPTY = -111;

/** `zookeeper://h:p,h:p/…?…` → `h:p,h:p`. */
export function serversOf(url: string): string {
  return decodeURIComponent(url.replace(/^zookeeper:\/\//, '').replace(/[/?#].*$/, ''));
}

/** The chroot of a `zookeeper://h:p/chroot` URL (`''` for none). */
export function chrootOf(url: string): string {
  const path = /^zookeeper:\/\/[^/?#]*(\/[^?#]*)?/.exec(url)?.[1] ?? '';
  return path === '/' ? '' : decodeURIComponent(path.replace(/\/$/, ''));
}

/** A connected raw client for a `zookeeper://` URL (chroot and query ignored). */
export async function rawClient(url: string, sessionTimeout = 10_000): Promise<ZooKeeperClient> {
  const client = createRawClient(serversOf(url), { sessionTimeout, retries: 0 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error('raw ZooKeeper client: not connected in 20 s'));
    }, 20_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return client;
}

/** The code of a ZooKeeper error (`undefined` for anything else). */
export function errorCode(error: unknown): number | undefined {
  return (error as { getCode?: () => number }).getCode?.();
}

/** The raw client's calls as promises; errors reject with the client's exception. */
export function calls(client: ZooKeeperClient) {
  const settle =
    <T>(resolve: (value: T) => void, reject: (error: unknown) => void) =>
    (error: unknown, value: T) =>
      error ? reject(error) : resolve(value);
  return {
    create: (path: string, data: Buffer, mode: number) =>
      new Promise<string>((res, rej) => client.create(path, data, mode, settle(res, rej))),
    remove: (path: string) => new Promise<void>((res, rej) => client.remove(path, -1, settle(res, rej))),
    getChildren: (path: string) =>
      new Promise<string[]>((res, rej) => client.getChildren(path, settle(res, rej))),
    getData: (path: string) =>
      new Promise<{ data: Buffer; stat: ZnodeStat }>((res, rej) =>
        client.getData(path, (error, data, stat) => (error ? rej(error) : res({ data, stat }))),
      ),
    setData: (path: string, data: Buffer, version: number) =>
      new Promise<ZnodeStat>((res, rej) => client.setData(path, data, version, settle(res, rej))),
  };
}

/** Removes `path` and everything below it; a path that does not exist is fine. */
export async function removeTree(client: ZooKeeperClient, path: string): Promise<void> {
  const zk = calls(client);
  const children = await zk.getChildren(path).catch((error: unknown) => {
    if (errorCode(error) === ZK_NO_NODE) return undefined;
    throw error;
  });
  if (children === undefined) return;
  for (const child of children) await removeTree(client, `${path}/${child}`);
  await zk.remove(path).catch((error: unknown) => {
    if (errorCode(error) !== ZK_NO_NODE) throw error;
  });
}

/** Removes `path` when it has no children (another run may still use it); absent is fine. */
export async function removeIfEmpty(client: ZooKeeperClient, path: string): Promise<void> {
  await calls(client)
    .remove(path)
    .catch((error: unknown) => {
      const code = errorCode(error);
      if (code !== ZK_NO_NODE && code !== ZK_NOT_EMPTY) throw error;
    });
}

/** `ZooKeeper 3.8.4`, from the first server's `srvr` four-letter command. */
export async function zookeeperVersion(url: string): Promise<string> {
  const [host = '127.0.0.1', port = '2181'] = serversOf(url).split(',')[0]!.split(':');
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connectTcp({ host, port: Number(port) }, () => socket.end('srvr'));
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5_000, () => socket.destroy(new Error('srvr: no answer within 5 s')));
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(text));
  });
  const version = /^Zookeeper version: ([^\s,-]+)/m.exec(answer)?.[1];
  return version === undefined
    ? `ZooKeeper (srvr answered: ${answer.trim() || 'nothing'})`
    : `ZooKeeper ${version}`;
}

/** The children of `path` (none when it does not exist), polled until there are at least `count`. */
export async function childrenUntil(url: string, path: string, count: number, ms = 5_000): Promise<string[]> {
  const client = await rawClient(url);
  try {
    const deadline = performance.now() + ms;
    for (;;) {
      const children = await calls(client)
        .getChildren(path)
        .catch((error: unknown) => {
          if (errorCode(error) === ZK_NO_NODE) return [];
          throw error;
        });
      if (children.length >= count || performance.now() > deadline) return children;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    client.close();
  }
}
