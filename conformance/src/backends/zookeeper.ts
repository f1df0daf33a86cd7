/**
 * zookeeper:// for `pnpm compare`: one ZooKeeper server from @lockstep/testing (or `--url`),
 * with lockstep asking for a 3 s session (its lease: see @lockstep/zookeeper's README).
 *
 * Floors, hand-written with a raw node-zookeeper-client client (no lockstep):
 * - `floor.lock.cycle`: in a queue node created beforehand, `create EPHEMERAL_SEQUENTIAL` and
 *   `getChildren` sent together (one round trip: the server answers in order, so the listing
 *   includes the new child), a check that it is first, then `delete` — two round trips, the
 *   least a ZooKeeper lock recipe can be: no fencing token, no protected name, no waiting, no
 *   loss detection, no queue-node cleanup. lockstep's cycle makes the same two round trips but
 *   writes a `multi(create, setData queue)` to learn the fencing token (czxid) in the first one.
 * - `floor.counter.increment`: ZooKeeper has no atomic increment; a single writer's
 *   `setData(path, n + 1, version)` that remembers the version it wrote last.
 * - `naive.counter.throughput64`: per call, `getData` then `setData` with the version read,
 *   starting over when another caller won the race — the CAS loop without coalescing.
 *
 * No peers: there is no maintained lock recipe for Node over ZooKeeper to compare with.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ZnodeStat, ZooKeeperClient } from '@lockstep/zookeeper';
import type { BackendProfile, BenchSubject } from './profile.js';
import { provisionServerTarget } from './server.js';

/** Lease for the suite's lease tests, and the session timeout lockstep asks for (the same, see the README). */
const ZOOKEEPER_TTL_MS = 3_000;
/** Session timeout of the raw clients. */
const RAW_SESSION_MS = 15_000;
/** How long a raw client may take to connect. */
const RAW_CONNECT_MS = 10_000;

const EMPTY = Buffer.alloc(0);
const PERSISTENT = 0;
const EPHEMERAL_SEQUENTIAL = 3;
const BAD_VERSION = -103;

interface ZooKeeperModule {
  createClient(
    connectionString: string,
    options?: { sessionTimeout?: number; retries?: number },
  ): ZooKeeperClient;
}

/** node-zookeeper-client ships no types; the adapter exports the client's shape. */
async function zookeeper(): Promise<ZooKeeperModule> {
  const specifier = 'node-zookeeper-client';
  const module = (await import(specifier)) as { default?: ZooKeeperModule };
  return (module.default ?? module) as ZooKeeperModule;
}

/** A connected raw client for a `zookeeper://h:p[,h:p]` URL (query and path ignored). */
export async function rawClient(url: string): Promise<ZooKeeperClient> {
  const servers = decodeURIComponent(url.replace(/^zookeeper:\/\//, '').replace(/[/?#].*$/, ''));
  const client = (await zookeeper()).createClient(servers, { sessionTimeout: RAW_SESSION_MS, retries: 0 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`raw ZooKeeper client: not connected within ${RAW_CONNECT_MS} ms`));
    }, RAW_CONNECT_MS);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return client;
}

/** Promisified calls of the raw client. */
function calls(client: ZooKeeperClient) {
  const settle =
    <T>(resolve: (value: T) => void, reject: (error: unknown) => void) =>
    (error: unknown, value: T) =>
      error ? reject(error) : resolve(value);
  return {
    create: (path: string, data: Buffer, mode: number) =>
      new Promise<string>((res, rej) => client.create(path, data, mode, settle(res, rej))),
    remove: (path: string) => new Promise<void>((res, rej) => client.remove(path, -1, settle(res, rej))),
    getChildren: (path: string) =>
      new Promise<string[]>((res, rej) => client.getChildren(path, undefined, settle(res, rej))),
    getData: (path: string) =>
      new Promise<{ data: Buffer; stat: ZnodeStat }>((res, rej) =>
        client.getData(path, undefined, (error, data, stat) => (error ? rej(error) : res({ data, stat }))),
      ),
    setData: (path: string, data: Buffer, version: number) =>
      new Promise<ZnodeStat>((res, rej) => client.setData(path, data, version, settle(res, rej))),
  };
}

function benchPath(what: string): string {
  return `/compare-floor-${what}-${randomBytes(4).toString('hex')}`;
}

function isBadVersion(error: unknown): boolean {
  return (error as { getCode?: () => number }).getCode?.() === BAD_VERSION;
}

export const profile: BackendProfile = {
  name: 'zookeeper',
  adapterModule: '@lockstep/zookeeper',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'zookeeper',
      kind: 'zookeeper',
      adapterModule: '@lockstep/zookeeper',
      ttlMs: ZOOKEEPER_TTL_MS,
      query: { sessionTimeoutMs: String(ZOOKEEPER_TTL_MS) },
    }),
  floor: {
    async lockCycle(url): Promise<BenchSubject> {
      const client = await rawClient(url);
      const zk = calls(client);
      const queue = benchPath('lock');
      return {
        setup: async () => {
          await zk.create(queue, EMPTY, PERSISTENT);
        },
        op: async () => {
          // Sent together: the listing is answered after the create, so it includes our child.
          const created = zk.create(`${queue}/lock-`, EMPTY, EPHEMERAL_SEQUENTIAL);
          const listed = zk.getChildren(queue);
          listed.catch(() => {});
          const path = await created;
          const children = await listed;
          const ours = path.slice(queue.length + 1);
          if (children.some((name) => name < ours)) throw new Error('floor lock unexpectedly held');
          await zk.remove(path);
        },
        teardown: async () => {
          await zk.remove(queue).catch(() => {});
          client.close();
        },
      };
    },
    async counterIncrement(url): Promise<BenchSubject> {
      const client = await rawClient(url);
      const zk = calls(client);
      const path = benchPath('counter');
      let last = { value: 0, version: 0 };
      return {
        setup: async () => {
          await zk.create(path, Buffer.from('0'), PERSISTENT);
        },
        op: async () => {
          const next = last.value + 1;
          const stat = await zk.setData(path, Buffer.from(String(next)), last.version);
          last = { value: next, version: stat.version };
        },
        teardown: async () => {
          await zk.remove(path).catch(() => {});
          client.close();
        },
      };
    },
  },
  naive: {
    async counterThroughput64(url): Promise<BenchSubject> {
      const client = await rawClient(url);
      const zk = calls(client);
      const path = benchPath('naive');
      return {
        setup: async () => {
          await zk.create(path, Buffer.from('0'), PERSISTENT);
        },
        op: async () => {
          for (;;) {
            const { data, stat } = await zk.getData(path);
            try {
              await zk.setData(path, Buffer.from(String(Number(data.toString()) + 1)), stat.version);
              return;
            } catch (error) {
              if (!isBadVersion(error)) throw error;
            }
          }
        },
        teardown: async () => {
          await zk.remove(path).catch(() => {});
          client.close();
        },
      };
    },
  },
  interop: async () => (await import('../interop/zookeeper.js')).ZOOKEEPER_INTEROP,
};

export default profile;
