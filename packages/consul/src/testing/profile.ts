/**
 * consul:// for `pnpm compare`: a Consul from @lockstep/testing — `LOCKSTEP_TEST_CONSUL_URL`, a
 * `consul` binary, a container, or (on machines where none exists) the Consul HTTP API emulator of
 * @lockstep/testing. The report's `source` says which; emulator figures are emulator figures, never
 * Consul figures. With the emulator, `session_ttl_min` is lowered to 1 s and the adapter is told so
 * through the URL (`?sessionTtlMinMs=1000`), so the lease tests take seconds; against a real
 * Consul (`--url`, env, binary, container) the documented 10 s minimum applies.
 *
 * Floors, hand-written with plain `fetch` and none of lockstep's machinery:
 * - `floor.lock.cycle`: with a session created (and renewed) beforehand,
 *   `PUT /v1/kv/<key>?acquire=<session>` then `PUT /v1/kv/<key>?release=<session>` — two
 *   requests, no fencing token, no waiting, no loss detection, the key left behind. lockstep's
 *   cycle is also two requests (a `/v1/txn` lock + get that returns the fencing token, and a
 *   guarded delete), plus its lease machinery.
 * - `floor.counter.increment`: Consul has no atomic increment; a single writer that remembers the
 *   key's ModifyIndex does one `/v1/txn` `[cas, get]` per +1 (one request, the new index in the
 *   answer).
 * - `naive.counter.throughput64`: per call, `GET` the key, then `PUT ?cas=<ModifyIndex>` with +1,
 *   starting over when the CAS loses — the CAS loop without coalescing.
 *
 * No peers: the Node `consul` client has no lock recipe (its maintainer removed one), and no other
 * Node library implements Consul locks.
 * @module
 */
import {
  adapterEntry,
  type BackendProfile,
  type BenchSubject,
  type ProvisionedBackend,
  type ProvisionOptions,
  scopedName,
  serverTarget,
  type TargetShape,
  urlTarget,
} from '@lockstep/conformance/profile';
import { keySegment } from '../keys.js';
import { agentOf as agent, consulVersion, deleteTree } from './raw.js';

/** Lease of the suite's lease tests: the emulator's lowered 1 s minimum / Consul's 10 s. */
export const CONSUL_EMULATOR_TEST_TTL_MS = 1_000;
export const CONSUL_TEST_TTL_MS = 10_000;
/** Session TTL of the floor (lockstep's cycles use its default 15 s lease too). */
const FLOOR_SESSION_TTL = '15s';

async function ok(response: Promise<Response>, doing: string): Promise<string> {
  const res = await response;
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${doing}: HTTP ${res.status} ${text}`);
  return text;
}

/** A session kept alive for the duration of a floor subject. */
async function floorSession(http: string): Promise<{ id: string; stop(): Promise<void> }> {
  const text = await ok(
    fetch(`${http}/v1/session/create`, {
      method: 'PUT',
      body: JSON.stringify({ TTL: FLOOR_SESSION_TTL, LockDelay: '0s', Behavior: 'release' }),
    }),
    'session create',
  );
  const id = (JSON.parse(text) as { ID: string }).ID;
  const renew = setInterval(() => {
    void fetch(`${http}/v1/session/renew/${id}`, { method: 'PUT' }).then(
      (r) => r.arrayBuffer(),
      () => {},
    );
  }, 7_500);
  renew.unref();
  return {
    id,
    stop: async () => {
      clearInterval(renew);
      await fetch(`${http}/v1/session/destroy/${id}`, { method: 'PUT' }).then(
        (r) => r.arrayBuffer(),
        () => {},
      );
    },
  };
}

/** The key's value and ModifyIndex (0 when absent). */
async function readCounter(http: string, key: string): Promise<{ value: number; index: string }> {
  const res = await fetch(`${http}/v1/kv/${key}`);
  if (res.status === 404) {
    await res.arrayBuffer();
    return { value: 0, index: '0' };
  }
  const [entry] = JSON.parse(await res.text()) as Array<{ Value: string | null; ModifyIndex: number }>;
  return {
    value: Number(Buffer.from(entry?.Value ?? '', 'base64').toString() || '0'),
    index: String(entry?.ModifyIndex ?? 0),
  };
}

async function provision(options: ProvisionOptions): Promise<ProvisionedBackend> {
  const adapterModule = adapterEntry('@lockstep/consul', import.meta.resolve);
  await import(adapterModule);
  const shape: TargetShape = {
    name: 'consul',
    adapterModule,
    ttlMs: CONSUL_TEST_TTL_MS,
    query: { prefix: options.prefix },
  };
  if (options.url !== undefined) {
    options.log(`consul: using ${options.url} from --url`);
    return { target: urlTarget(options.url, shape), stop: async () => {} };
  }
  const testing = await import('@lockstep/testing');
  options.log('consul: starting a Consul (or, where none can be installed, the Consul API emulator)');
  const server = await testing.startServer('consul', { consulEmulator: { sessionTtlMin: '1s' } });
  const emulator = server.source === 'emulator';
  options.log(
    emulator
      ? `consul: EMULATOR of the documented Consul HTTP API at ${server.url} (figures are emulator figures)`
      : `consul: ${server.source} server at ${server.url}`,
  );
  // Child processes connect with exactly the target's URL, so the emulator's TTL minimum travels in it.
  const target = serverTarget(
    server,
    emulator
      ? {
          ...shape,
          ttlMs: CONSUL_EMULATOR_TEST_TTL_MS,
          query: { ...shape.query, sessionTtlMinMs: String(CONSUL_EMULATOR_TEST_TTL_MS) },
        }
      : shape,
  );
  return { target, stop: () => server.stop() };
}

/** The consul:// profile. */
export const consulProfile: BackendProfile = {
  name: 'consul',
  adapterModule: '@lockstep/consul',
  provision,
  serverVersion: consulVersion,
  async cleanup(url, prefix) {
    // lockstep's keys start with the prefix's key segment; floors and scenarios use the prefix as is.
    const http = agent(url);
    for (const root of [`${keySegment(prefix)}/`, `${prefix}/`]) await deleteTree(http, root);
  },
  floor: {
    async lockCycle({ url, prefix }): Promise<BenchSubject> {
      const http = agent(url);
      const key = scopedName(prefix, 'floor-lock');
      let session: Awaited<ReturnType<typeof floorSession>> | undefined;
      return {
        setup: async () => {
          session = await floorSession(http);
        },
        op: async () => {
          const id = session!.id;
          const got = await ok(
            fetch(`${http}/v1/kv/${key}?acquire=${id}`, { method: 'PUT', body: '' }),
            'acquire',
          );
          if (got.trim() !== 'true') throw new Error('floor lock unexpectedly held');
          await ok(fetch(`${http}/v1/kv/${key}?release=${id}`, { method: 'PUT', body: '' }), 'release');
        },
        teardown: async () => {
          await session?.stop();
        },
      };
    },
    async counterIncrement({ url, prefix }): Promise<BenchSubject> {
      const http = agent(url);
      const key = scopedName(prefix, 'floor-counter');
      let last = { value: 0, index: '0' };
      return {
        setup: async () => {
          last = await readCounter(http, key);
        },
        op: async () => {
          const next = last.value + 1;
          const ops = [
            {
              KV: {
                Verb: 'cas',
                Key: key,
                Value: Buffer.from(String(next)).toString('base64'),
                Index: Number(last.index),
              },
            },
            { KV: { Verb: 'get', Key: key } },
          ];
          const res = await fetch(`${http}/v1/txn`, { method: 'PUT', body: JSON.stringify(ops) });
          const text = await res.text();
          if (res.status !== 200) throw new Error(`floor counter written by someone else: ${text}`);
          const results = (JSON.parse(text) as { Results: Array<{ KV: { ModifyIndex: number } }> }).Results;
          last = { value: next, index: String(results[1]!.KV.ModifyIndex) };
        },
        teardown: async () => {},
      };
    },
  },
  naive: {
    async counterThroughput64({ url, prefix }): Promise<BenchSubject> {
      const http = agent(url);
      const key = scopedName(prefix, 'naive-counter');
      return {
        op: async () => {
          for (;;) {
            const seen = await readCounter(http, key);
            const written = await ok(
              fetch(`${http}/v1/kv/${key}?cas=${seen.index}`, {
                method: 'PUT',
                body: String(seen.value + 1),
              }),
              'cas',
            );
            if (written.trim() === 'true') return;
          }
        },
        teardown: async () => {},
      };
    },
  },
  // Against the emulator here: the report's column carries the emulator caveat.
  interop: async () => (await import('./interop.js')).CONSUL_INTEROP,
};
