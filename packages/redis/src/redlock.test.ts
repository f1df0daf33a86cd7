/**
 * redlock:// specifics against three real redis-servers: quorum with dead and paused
 * instances, partial acquisitions, drift, and what Redlock does not offer.
 */
import { BackendUnavailableError, type LockLostError, UnsupportedError } from '@lockstep/core';
import type { ServerHandle } from '@lockstep/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { abortedAfter, eventually, freshPrefix, open, rawClient, within } from './test-support/helpers.js';
import { requireProcessControl, useRedisCluster } from './test-support/servers.js';

const cluster = useRedisCluster(3);
const url = () => cluster.handle.url;
const node = (i: number): ServerHandle => cluster.handle.nodes[i]!;
const hurt = new Set<ServerHandle>();
/** A node this test kills, pauses or restarts; it is restarted after the test. */
const hurtNode = (i: number): ServerHandle => {
  hurt.add(node(i));
  return node(i);
};
afterEach(async () => {
  await Promise.all([...hurt].map((n) => n.restart()));
  hurt.clear();
});

describe('redlock://', () => {
  it('grants on a quorum, excludes others, and offers neither fencing tokens nor counters', async () => {
    const prefix = freshPrefix();
    const a = await open(url(), { prefix });
    const b = await open(url(), { prefix });
    expect(a.capabilities.lock).toMatchObject({ fencing: 'none', faultTolerance: 'quorum' });
    const held = await a.lock('job').acquire();
    expect(() => held.fencingToken).toThrow(UnsupportedError);
    expect(await b.lock('job').tryAcquire()).toBeNull();
    expect(() => a.counter('n')).toThrow(UnsupportedError);
    // The key is on every instance, with our owner id.
    const values = await Promise.all(
      cluster.handle.nodes.map((n) => rawClient(n.url).get(`${prefix}/lock/job`)),
    );
    expect(new Set(values).size).toBe(1);
    expect(values[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(await held.release()).toBe(true);
    expect(await b.lock('job').tryAcquire()).not.toBeNull();
  });

  it('releases partial acquisitions at once when the quorum is not reached', async () => {
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix });
    const key = `${prefix}/lock/split`;
    // Another owner holds 2 of 3 instances; we can only get the third.
    await rawClient(node(0).url).set(key, 'other', 'PX', 30_000);
    await rawClient(node(1).url).set(key, 'other', 'PX', 30_000);
    expect(await coord.lock('split').tryAcquire()).toBeNull();
    const third = rawClient(node(2).url);
    // Released right away (not left to expire and vote against the next attempt).
    await eventually(async () => expect(await third.get(key)).toBeNull(), 200);
  });

  it('still grants with one of three instances killed', async (context) => {
    requireProcessControl(context, ...cluster.handle.nodes);
    const prefix = freshPrefix();
    const a = await open(url(), { prefix });
    const b = await open(url(), { prefix });
    await hurtNode(2).kill();
    const start = performance.now();
    const held = await a.lock('one-down').acquire({ waitMs: 5_000 });
    expect(performance.now() - start).toBeLessThan(1_000);
    expect(await b.lock('one-down').tryAcquire()).toBeNull();
    expect(await held.isHeld()).toBe(true);
    expect(await held.release()).toBe(true);
  });

  it('connects with one of three instances dead, and fails with two dead', async (context) => {
    requireProcessControl(context, ...cluster.handle.nodes);
    await hurtNode(0).kill();
    const coord = await open(url(), { prefix: freshPrefix(), connectTimeoutMs: 1_000 });
    expect(await coord.lock('late-start').tryAcquire()).not.toBeNull();
    await hurtNode(1).kill();
    const start = performance.now();
    const error = await open(url(), { connectTimeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(performance.now() - start).toBeLessThan(1_500);
  });

  it('fails as soon as two instances refused, without waiting for a paused third', async (context) => {
    requireProcessControl(context, ...cluster.handle.nodes);
    await Promise.all([hurtNode(0).kill(), hurtNode(1).kill(), hurtNode(2).pause()]);
    const start = performance.now();
    const error = await open(url(), { connectTimeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(performance.now() - start).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toContain(`127.0.0.1:${node(2).port}: still connecting`);
    expect((error as Error).message).toContain(`ECONNREFUSED 127.0.0.1:${node(0).port}`);
  });

  it('fails with BackendUnavailableError in bounded time when two of three are killed, even with no waitMs', async (context) => {
    requireProcessControl(context, ...cluster.handle.nodes);
    const prefix = freshPrefix();
    const coord = await open(url(), { prefix, commandTimeoutMs: 500 });
    await (await coord.lock('two-down').acquire()).release(); // connected to all three
    await Promise.all([hurtNode(0).kill(), hurtNode(1).kill()]);
    const start = performance.now();
    const error = await within(
      coord
        .lock('two-down')
        .acquire()
        .catch((e: unknown) => e),
      3_000,
      'the acquire to fail',
    );
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(/2 of 3 instances failed/);
    expect(performance.now() - start).toBeLessThan(1_500);
  });

  it('does not wait for a paused instance once the others made a quorum', async (context) => {
    requireProcessControl(context, ...cluster.handle.nodes);
    const coord = await open(url(), { prefix: freshPrefix(), commandTimeoutMs: 2_000 });
    await (await coord.lock('paused').acquire()).release();
    await hurtNode(1).pause();
    const start = performance.now();
    const held = await coord.lock('paused').acquire({ waitMs: 5_000 });
    expect(performance.now() - start).toBeLessThan(500); // far below the command timeout
    expect(await held.release()).toBe(true);
  });

  it('ends the lease early by the allowed clock drift', async () => {
    // driftFactor 0.1 → drift = 0.1·2000 + 2 = 202 ms: the handle gives up at ~1798 ms.
    const coord = await open(url(), { prefix: freshPrefix(), driftFactor: 0.1 });
    const start = performance.now();
    const held = await coord.lock('drift', { ttlMs: 2_000, autoExtend: false }).acquire();
    const lostAfter = await within(abortedAfter(held.signal, start), 5_000, 'expiry');
    expect((held.signal.reason as LockLostError).reason).toBe('expired');
    expect(lostAfter).toBeGreaterThan(1_700);
    expect(lostAfter).toBeLessThan(1_950);
  });

  it('keeps the lock when one instance restarts without persistence (the quorum remembers)', async (context) => {
    requireProcessControl(context, ...cluster.handle.nodes);
    const prefix = freshPrefix();
    const a = await open(url(), { prefix });
    const b = await open(url(), { prefix });
    const held = await a.lock('survivor', { ttlMs: 10_000 }).acquire();
    await hurtNode(0).kill();
    await node(0).restart();
    await eventually(async () => expect(await rawClient(node(0).url).ping()).toBe('PONG'));
    expect(await b.lock('survivor').tryAcquire()).toBeNull();
    expect(held.signal.aborted).toBe(false);
    expect(await held.isHeld()).toBe(true);
    await held.release();
  });
});
