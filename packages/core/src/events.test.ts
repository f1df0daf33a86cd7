import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { createCoordinator } from './coordinator.js';
import type { BackendDriver, LeaseGrant } from './driver.js';
import { eventChannelName, type LockstepEvents, type LockstepEventType } from './events.js';
import { connectMemory, MEMORY_CAPABILITIES } from './memory/index.js';

function record(coord: ReturnType<typeof connectMemory>) {
  const seen: Array<{ type: LockstepEventType; event: LockstepEvents[LockstepEventType] }> = [];
  const types: LockstepEventType[] = [
    'acquire',
    'granted',
    'busy',
    'timed-out',
    'aborted',
    'released',
    'lost',
  ];
  for (const type of types) coord.on(type, (event) => seen.push({ type, event }));
  return seen;
}

describe('coordinator events', () => {
  it('report an acquire, its grant with wait and token, its release with held time; a busy try; a timeout; an abort', async () => {
    const a = connectMemory('events');
    const b = connectMemory('events');
    const seen = record(b);
    const held = await b.lock('l').acquire();
    await held.release();
    const other = await a.lock('l').acquire();
    expect(await b.lock('l').tryAcquire()).toBeNull();
    await b
      .lock('l')
      .acquire({ waitMs: 20 })
      .catch(() => {});
    const stop = new AbortController();
    const aborted = b
      .lock('l')
      .acquire({ signal: stop.signal })
      .catch(() => {});
    stop.abort(new Error('enough'));
    await aborted;
    await other.release();

    const types = seen.map((s) => s.type);
    expect(types).toEqual([
      'acquire',
      'granted',
      'released',
      'acquire',
      'busy',
      'acquire',
      'timed-out',
      'acquire',
      'aborted',
    ]);
    const granted = seen[1]!.event as LockstepEvents['granted'];
    expect(granted).toMatchObject({ backend: 'memory', primitive: 'lock', name: 'l', fencingToken: 1n });
    expect(granted.waitedMs).toBeGreaterThanOrEqual(0);
    const attempt = (seen[0]!.event as LockstepEvents['acquire']).attempt;
    expect(granted.attempt).toBe(attempt);
    expect((seen[2]!.event as LockstepEvents['released']).attempt).toBe(attempt);
    expect((seen[6]!.event as LockstepEvents['timed-out']).waitedMs).toBeGreaterThanOrEqual(19);
    expect((seen[8]!.event as LockstepEvents['aborted']).reason).toMatchObject({ message: 'enough' });
    await a.close();
    await b.close();
  });

  it('report a loss with its reason, and go to diagnostics_channel for every coordinator', async () => {
    const coord = connectMemory('events-loss');
    const published: unknown[] = [];
    const onLost = (message: unknown) => published.push(message);
    subscribe(eventChannelName('lost'), onLost);
    try {
      const seen = record(coord);
      const held = await coord.lock('l', { ttlMs: 20, autoExtend: false }).acquire();
      await new Promise<void>((resolve) => held.signal.addEventListener('abort', () => resolve()));
      const lost = seen.find((s) => s.type === 'lost')!.event as LockstepEvents['lost'];
      expect(lost.reason).toBe('expired');
      expect(lost.heldMs).toBeGreaterThanOrEqual(15);
      expect(published).toEqual([lost]);
    } finally {
      unsubscribe(eventChannelName('lost'), onLost);
      await coord.close();
    }
  });

  it('report failed renewals with what is left of the lease', async () => {
    let failing = false;
    const grant: LeaseGrant = {
      fencingToken: 1n,
      renew: async () => {
        if (failing) throw new Error('ECONNRESET');
        return true;
      },
      release: async () => true,
      isHeld: async () => true,
    };
    const driver: BackendDriver = {
      backend: 'memory',
      capabilities: MEMORY_CAPABILITIES,
      locks: { tryAcquire: async () => grant },
      close: async () => {},
    };
    const coord = createCoordinator(driver);
    const failures: Array<LockstepEvents['renewal-failed']> = [];
    coord.on('renewal-failed', (e) => failures.push(e));
    failing = true;
    const held = await coord.lock('l', { ttlMs: 150 }).acquire();
    await new Promise<void>((resolve) => held.signal.addEventListener('abort', () => resolve()));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect((failures[0]!.cause as Error).message).toBe('ECONNRESET');
    expect(failures[0]!.leftMs).toBeLessThanOrEqual(150);
    await coord.close();
  });

  it('a listener that throws disturbs nothing and becomes a warning; off() stops a listener', async () => {
    const coord = connectMemory('events-throw');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    let calls = 0;
    const listener = () => {
      calls++;
    };
    coord.on('granted', () => {
      throw new Error('listener bug');
    });
    coord.on('granted', listener);
    const held = await coord.lock('l').acquire();
    await held.release();
    coord.off('granted', listener);
    await (await coord.lock('l').acquire()).release();
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(calls).toBe(1);
    expect(warnings.some((w) => w.includes('listener bug'))).toBe(true);
    expect(() => coord.on('nope' as never, () => {})).toThrow(TypeError);
    await coord.close();
  });
});
