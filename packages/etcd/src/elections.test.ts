/**
 * Elections and read-write locks on a real etcd: what observers hear (every change, vacancies,
 * each of two quick proclaims), terms as create revisions, proclaim keeping the lease, and which
 * waiters a read-write release wakes.
 */
import {
  type Coordinator,
  connect,
  type LeaderInfo,
  type LockHandle,
  LockTimeoutError,
} from '@lockstep/core';
import { useServer } from '@lockstep/testing/vitest';
import type { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import './index.js';
import { driverOf, keysUnder, rawClient, until } from './test-support/etcd.js';

const etcd = useServer('etcd');
const open: Coordinator[] = [];
const clients: Etcd3[] = [];
const stops: AbortController[] = [];

async function coordinator(prefix: string): Promise<Coordinator> {
  const c = await connect(etcd.url, { prefix });
  open.push(c);
  return c;
}

function raw(): Etcd3 {
  const client = rawClient(etcd.url);
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const stop of stops.splice(0)) stop.abort();
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
  for (const c of clients.splice(0)) c.close();
});

/** Collects what an observer of `name` hears, as `value@term` or `none`. */
function observing(c: Coordinator, name: string): string[] {
  const stop = new AbortController();
  stops.push(stop);
  const seen: string[] = [];
  const show = (l: LeaderInfo | null) => (l ? `${l.value}@${l.term}` : 'none');
  void (async () => {
    for await (const leader of c.election(name).observe({ signal: stop.signal })) seen.push(show(leader));
  })().catch(() => {});
  return seen;
}

describe('etcd elections', () => {
  it('observers hear every change in order: each of two quick proclaims, a vacancy, and not a candidate joining behind', async () => {
    const [a, b, watcher] = await Promise.all([1, 2, 3].map(() => coordinator('el-observe')));
    const seen = observing(watcher!, 'x');
    await until('the first state', () => seen.length === 1);
    const lead = await a!.election('x').campaign({ value: 'a1' });
    const t = lead.term;
    const behind = b!.election('x').campaign({ value: 'b' });
    await keysUnder(raw(), 'el-observe/elections/x/', 2);
    await lead.proclaim('a2');
    await lead.proclaim('a3');
    await until('both proclaims', () => seen.length === 4);
    await lead.resign();
    const next = await behind;
    await next.resign();
    await until('the vacancy after the last resign', () => seen.length === 6);
    expect(seen).toEqual(['none', `a1@${t}`, `a2@${t}`, `a3@${t}`, `b@${next.term}`, 'none']);
  });

  it("the term is the leader's key's create revision, and leader() reads it back", async () => {
    const c = await coordinator('el-term');
    const lead = await c.election('x').campaign({ value: 'v' });
    const [kv] = (await raw().getAll().prefix('el-term/elections/x/').exec()).kvs;
    expect(lead.term).toBe(BigInt(kv!.create_revision));
    expect(await c.election('x').leader()).toEqual({ value: 'v', term: lead.term });
    await lead.resign();
    expect(await c.election('x').leader()).toBeNull();
  });

  it("a proclaimed value stays on the leader's lease: when the lease ends, the leadership and its value go", async () => {
    const [a, watcher] = await Promise.all([1, 2].map(() => coordinator('el-lease')));
    const lead = await a!.election('x').campaign({ value: 'before' });
    await lead.proclaim('after');
    const seen = observing(watcher!, 'x');
    await until('the proclaimed value', () => seen.length === 1);
    const client = raw();
    const [kv] = (await client.getAll().prefix('el-lease/elections/x/').exec()).kvs;
    await client.leaseClient.leaseRevoke({ ID: kv!.lease });
    await until('the vacancy', () => seen.length === 2);
    expect(seen).toEqual([`after@${lead.term}`, 'none']);
    await until('the leader told of its loss', () => lead.signal.aborted);
  });

  it('a campaign that may not wait leads only when nobody stands, waiting candidates included', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => coordinator('el-try')));
    const lead = await a!.election('x').campaign({ value: 'a' });
    const waiting = b!.election('x').campaign({ value: 'b' });
    await keysUnder(raw(), 'el-try/elections/x/', 2);
    await lead.resign();
    const next = await waiting;
    await expect(c!.election('x').campaign({ value: 'c', waitMs: 0 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    expect(await raw().getAll().prefix('el-try/elections/x/').keys()).toHaveLength(1);
    await next.resign();
    const alone = await c!.election('x').campaign({ value: 'c', waitMs: 0 });
    expect(alone.term).toBeGreaterThan(next.term);
    await alone.resign();
  });
});

describe('etcd read-write locks', () => {
  it("a reader waits only for earlier writers: a reader's release wakes the writer behind it, not the reader behind that", async () => {
    const [r1, w, r2] = await Promise.all([1, 2, 3].map(() => coordinator('rw-order')));
    const client = raw();
    const queue = 'rw-order/rwlocks/x/';
    const reading = await r1!.readWriteLock('x').read.acquire();
    const writing = w!.readWriteLock('x').write.acquire();
    await keysUnder(client, queue, 2);
    const later = r2!.readWriteLock('x').read.acquire();
    await keysUnder(client, queue, 3);
    const wakes = () => [driverOf(w!).context.waits.wakes.deleted, driverOf(r2!).context.waits.wakes.deleted];
    const before = wakes();
    await reading.release();
    const writer: LockHandle = await writing;
    expect(wakes()).toEqual([before[0]! + 1, before[1]]);
    await writer.release();
    const reader = await later;
    expect(reader.fencingToken).toBeGreaterThan(writer.fencingToken);
    expect(wakes()[1]).toBe(before[1]! + 1);
    await reader.release();
  });

  it('a read acquire is one round trip beside other readers, and readers share', async () => {
    const [a, b] = await Promise.all([1, 2].map(() => coordinator('rw-rt')));
    const first = await a!.readWriteLock('x').read.acquire();
    const { rpc } = driverOf(b!).context;
    await (await b!.readWriteLock('x').read.acquire()).release();
    const before = rpc.calls;
    const second = await b!.readWriteLock('x').read.acquire();
    expect(rpc.calls - before).toBe(1);
    expect(await b!.readWriteLock('x').write.tryAcquire()).toBeNull();
    await Promise.all([first.release(), second.release()]);
  });
});
