/**
 * etcd:// for `pnpm compare`: one etcd server from @lockstep/testing (or `--url`).
 *
 * Floors, hand-written with the raw etcd3 client (no lockstep):
 * - `floor.lock.cycle`: with a lease granted (and kept alive) beforehand, one transaction
 *   `If(create_revision(key) == 0) Then put(key, lease)` and one delete — the least an etcd
 *   lock can be: no queue read, no fencing, no waiting, no loss detection.
 * - `floor.counter.increment`: one compare-and-swap `If(mod_revision == last) Then put(n + 1)`
 *   from a single writer that remembers the last revision (etcd has no atomic increment).
 * - `naive.counter.throughput64`: per call, a get then that compare-and-swap, starting over
 *   with a fresh get when it loses the race — the CAS loop without coalescing.
 *
 * Peer `etcd3`: the client's own `lock()` (a new lease per acquire, a put-if-absent, a revoke
 * to release). It fails fast when the lock is held, so for `lock.handoff` each contender wraps
 * it in a retry loop that sleeps {@link ETCD3_RETRY_MS} ms between attempts — etcd3 offers no
 * way to wait.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  adapterEntry,
  type BackendProfile,
  type BenchSubject,
  type Contender,
  provisionServerTarget,
  scopedName,
} from '@lockstep/conformance/profile';
import { encodeName } from '@lockstep/core/driver';
import { CompareResult, CompareTarget, type Etcd3, EtcdLockFailedError, type Lock } from 'etcd3';
import { deleteByPrefix, etcdVersion, rawClient } from './raw.js';

/** Lease for the suite's lease tests: etcd's 2 s minimum plus headroom for a loaded machine. */
export const ETCD_TEST_TTL_MS = 3_000;
/** The pause between two attempts of the etcd3 peer's retry loop. */
export const ETCD3_RETRY_MS = 10;
/** Lease of the floor and the peer, in seconds (the lockstep side uses its default 15 s too). */
const LEASE_SECONDS = 15;

/** A counter key with a single writer's compare-and-swap, the naive loop's building block. */
function casCounter(client: Etcd3, key: string) {
  const k = Buffer.from(key);
  const read = async (): Promise<{ value: number; mod: string }> => {
    const res = await client.kv.range({ key: k });
    const kv = res.kvs[0];
    return kv ? { value: Number(kv.value.toString()), mod: kv.mod_revision } : { value: 0, mod: '0' };
  };
  const swap = async (next: number, mod: string): Promise<string | undefined> => {
    const res = await client.kv.txn({
      compare: [{ key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: mod }],
      success: [{ request_put: { key: k, value: Buffer.from(String(next)) } }],
      failure: [],
    });
    return res.succeeded ? res.header.revision : undefined;
  };
  return { read, swap };
}

/** The etcd:// profile. */
export const etcdProfile: BackendProfile = {
  name: 'etcd',
  adapterModule: '@lockstep/etcd',
  provision: (options) =>
    provisionServerTarget({
      ...options,
      name: 'etcd',
      kind: 'etcd',
      adapterModule: adapterEntry('@lockstep/etcd', import.meta.resolve),
      ttlMs: ETCD_TEST_TTL_MS,
    }),
  serverVersion: etcdVersion,
  async cleanup(url, prefix) {
    const client = rawClient(url);
    try {
      // lockstep's keys start with the prefix's segment; floors, peers and scenarios use the prefix as is.
      await deleteByPrefix(client, [`${encodeName(prefix)}/`, `${prefix}/`, `/${prefix}/`]);
    } finally {
      client.close();
    }
  },
  floor: {
    async lockCycle({ url, prefix }): Promise<BenchSubject> {
      const client = rawClient(url);
      const lease = client.lease(LEASE_SECONDS);
      const key = Buffer.from(scopedName(prefix, 'floor-lock'));
      let leaseId = '';
      return {
        setup: async () => {
          leaseId = await lease.grant();
        },
        op: async () => {
          const res = await client.kv.txn({
            compare: [
              { key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: '0' },
            ],
            success: [{ request_put: { key, value: Buffer.alloc(0), lease: leaseId } }],
            failure: [],
          });
          if (!res.succeeded) throw new Error('floor lock unexpectedly held');
          await client.kv.deleteRange({ key });
        },
        teardown: async () => {
          await lease.revoke().catch(() => {});
          client.close();
        },
      };
    },
    async counterIncrement({ url, prefix }): Promise<BenchSubject> {
      const client = rawClient(url);
      const counter = casCounter(client, scopedName(prefix, 'floor-counter'));
      let last = { value: 0, mod: '0' };
      return {
        setup: async () => {
          last = await counter.read();
        },
        op: async () => {
          const mod = await counter.swap(last.value + 1, last.mod);
          if (mod === undefined) throw new Error('floor counter written by someone else');
          last = { value: last.value + 1, mod };
        },
        teardown: async () => client.close(),
      };
    },
  },
  naive: {
    async counterThroughput64({ url, prefix }): Promise<BenchSubject> {
      const client = rawClient(url);
      const counter = casCounter(client, scopedName(prefix, 'naive-counter'));
      return {
        op: async () => {
          for (;;) {
            const seen = await counter.read();
            if ((await counter.swap(seen.value + 1, seen.mod)) !== undefined) return;
          }
        },
        teardown: async () => client.close(),
      };
    },
  },
  peers: {
    etcd3: {
      async lockCycle({ url, prefix }): Promise<BenchSubject> {
        const client = rawClient(url);
        const name = scopedName(prefix, 'etcd3-lock');
        return {
          op: async () => {
            const lock = client.lock(name).ttl(LEASE_SECONDS);
            await lock.acquire();
            await lock.release();
          },
          teardown: async () => client.close(),
        };
      },
      async lockHandoff({ url, prefix }, n): Promise<Contender[]> {
        const name = scopedName(prefix, 'etcd3-handoff');
        return Array.from({ length: n }, () => {
          const client = rawClient(url);
          let held: Lock | undefined;
          return {
            // etcd3's lock() fails fast when held: retry every ETCD3_RETRY_MS ms until it succeeds.
            acquire: async () => {
              for (;;) {
                const lock = client.lock(name).ttl(LEASE_SECONDS);
                try {
                  await lock.acquire();
                  held = lock;
                  return;
                } catch (error) {
                  if (!(error instanceof EtcdLockFailedError)) throw error;
                  await sleep(ETCD3_RETRY_MS);
                }
              }
            },
            release: async () => {
              const lock = held;
              held = undefined;
              await lock?.release();
            },
            close: async () => client.close(),
          };
        });
      },
    },
  },
  interop: async () => (await import('./interop.js')).ETCD_INTEROP,
};
