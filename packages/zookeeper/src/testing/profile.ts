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
import {
  adapterEntry,
  type BackendProfile,
  type BenchSubject,
  provisionServerTarget,
  scopedName,
} from '@lockstep/conformance/profile';
import { encodeName } from '@lockstep/core/driver';
import { calls, chrootOf, errorCode, rawClient, removeIfEmpty, removeTree, zookeeperVersion } from './raw.js';

/** Lease for the suite's lease tests, and the session timeout lockstep asks for (the same: with a per-session lease the session timeout is how long a dead holder keeps its locks). */
export const ZOOKEEPER_TEST_TTL_MS = 3_000;
/** Session timeout of the raw clients. */
const RAW_SESSION_MS = 15_000;

const EMPTY = Buffer.alloc(0);
const PERSISTENT = 0;
const EPHEMERAL_SEQUENTIAL = 3;
const BAD_VERSION = -103;
const NODE_EXISTS = -110;

/** Creates `/<prefix>/<what>/<random>` (and its parents) for a floor; returns its path. */
async function floorPath(client: Awaited<ReturnType<typeof rawClient>>, prefix: string, what: string) {
  const path = `/${scopedName(prefix, what)}`;
  const zk = calls(client);
  const parts = path.split('/').slice(1);
  for (let i = 1; i <= parts.length; i++) {
    await zk.create(`/${parts.slice(0, i).join('/')}`, EMPTY, PERSISTENT).catch((error: unknown) => {
      if (errorCode(error) !== NODE_EXISTS) throw error;
    });
  }
  return path;
}

/** The zookeeper:// profile. */
export const zookeeperProfile: BackendProfile = {
  name: 'zookeeper',
  adapterModule: '@lockstep/zookeeper',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'zookeeper',
      kind: 'zookeeper',
      adapterModule: adapterEntry('@lockstep/zookeeper', import.meta.resolve),
      ttlMs: ZOOKEEPER_TEST_TTL_MS,
      query: { sessionTimeoutMs: String(ZOOKEEPER_TEST_TTL_MS) },
    }),
  serverVersion: zookeeperVersion,
  async cleanup(url, prefix) {
    const client = await rawClient(url, RAW_SESSION_MS);
    try {
      // lockstep's nodes live under the prefix's segment (below the URL's chroot); floors and
      // scenarios write under /<prefix> itself, whose first segment other runs may share.
      await removeTree(client, `${chrootOf(url)}/${encodeName(prefix)}`);
      for (const root of new Set([chrootOf(url), ''])) {
        await removeTree(client, `${root}/${prefix}`);
        const parents = prefix.split('/').slice(0, -1);
        for (let i = parents.length; i > 0; i--)
          await removeIfEmpty(client, `${root}/${parents.slice(0, i).join('/')}`);
      }
    } finally {
      client.close();
    }
  },
  floor: {
    async lockCycle({ url, prefix }): Promise<BenchSubject> {
      const client = await rawClient(url, RAW_SESSION_MS);
      const zk = calls(client);
      const queue = await floorPath(client, prefix, 'floor-lock');
      return {
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
    async counterIncrement({ url, prefix }): Promise<BenchSubject> {
      const client = await rawClient(url, RAW_SESSION_MS);
      const zk = calls(client);
      const path = await floorPath(client, prefix, 'floor-counter');
      let last = { value: 0, version: 0 };
      return {
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
    async counterThroughput64({ url, prefix }): Promise<BenchSubject> {
      const client = await rawClient(url, RAW_SESSION_MS);
      const zk = calls(client);
      const path = await floorPath(client, prefix, 'naive-counter');
      return {
        op: async () => {
          for (;;) {
            const { data, stat } = await zk.getData(path);
            try {
              await zk.setData(path, Buffer.from(String(Number(data.toString()) + 1)), stat.version);
              return;
            } catch (error) {
              if (errorCode(error) !== BAD_VERSION) throw error;
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
  interop: async () => (await import('./interop.js')).ZOOKEEPER_INTEROP,
};
