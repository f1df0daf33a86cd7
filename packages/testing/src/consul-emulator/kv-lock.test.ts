/**
 * Locks on KV keys: kv.mdx (Create/Update Key › acquire, release) and the Sessions overview
 * (Session Design: behavior, lock-delay; K/V Integration: LockIndex, Session, ModifyIndex).
 */
import { describe, expect, it } from 'vitest';
import {
  type KvEntryJson,
  ManualClock,
  settlesWithin,
  type TestEmulator,
  uniqueKey,
  useTestEmulator,
  withEmulator,
} from './test-support.js';

const consul = useTestEmulator();

async function entryOf(emulator: TestEmulator, key: string): Promise<KvEntryJson | undefined> {
  const reply = await emulator.call(`/v1/kv/${key}`);
  return reply.status === 404 ? undefined : reply.json<KvEntryJson[]>()[0];
}

const decode = (value: string | null | undefined) => Buffer.from(value ?? '', 'base64').toString();

describe('kv.mdx › Create/Update Key › acquire', () => {
  it('kv.mdx › acquire › a key need not exist: acquire creates it, sets Session and LockIndex 1', async () => {
    const key = uniqueKey('acquire-new');
    const session = await consul.session({});
    expect((await consul.put(`/v1/kv/${key}?acquire=${session}`, 'holder-a')).text).toBe('true');
    const entry = await entryOf(consul, key);
    expect(entry).toMatchObject({ Session: session, LockIndex: 1 });
    expect(decode(entry?.Value)).toBe('holder-a');
  });

  it('kv.mdx › acquire › fails (false) while another session holds the lock, and changes nothing', async () => {
    const key = uniqueKey('acquire-held');
    const [a, b] = [await consul.session({}), await consul.session({})];
    await consul.put(`/v1/kv/${key}?acquire=${a}`, 'a');
    const before = await entryOf(consul, key);
    expect((await consul.put(`/v1/kv/${key}?acquire=${b}`, 'b')).text).toBe('false');
    expect(await entryOf(consul, key)).toEqual(before);
  });

  it('kv.mdx › acquire › the holder may re-acquire: LockIndex unchanged, contents updated', async () => {
    const key = uniqueKey('reacquire');
    const session = await consul.session({});
    await consul.put(`/v1/kv/${key}?acquire=${session}`, 'v1');
    const first = await entryOf(consul, key);
    expect((await consul.put(`/v1/kv/${key}?acquire=${session}`, 'v2')).text).toBe('true');
    const second = await entryOf(consul, key);
    expect(second?.LockIndex).toBe(first?.LockIndex);
    expect(decode(second?.Value)).toBe('v2');
    expect(second?.ModifyIndex).toBeGreaterThan(first?.ModifyIndex ?? Number.POSITIVE_INFINITY);
  });

  it('Sessions overview › K/V Integration › every new acquisition increments LockIndex, even by the same session', async () => {
    const key = uniqueKey('lockindex');
    const [a, b] = [await consul.session({}), await consul.session({})];
    await consul.put(`/v1/kv/${key}?acquire=${a}`);
    await consul.put(`/v1/kv/${key}?release=${a}`);
    await consul.put(`/v1/kv/${key}?acquire=${b}`);
    await consul.put(`/v1/kv/${key}?release=${b}`);
    await consul.put(`/v1/kv/${key}?acquire=${a}`);
    expect((await entryOf(consul, key))?.LockIndex).toBe(3);
  });

  it('kv.mdx › acquire › requires a live session: an unknown session is an error, not false', async () => {
    const key = uniqueKey('acquire-unknown');
    const reply = await consul.put(`/v1/kv/${key}?acquire=0b2c3d4e-0000-4000-8000-00000000dead`, 'x');
    expect(reply.status).toBe(500);
    expect(reply.text).toContain('invalid session');
    expect(await entryOf(consul, key)).toBeUndefined();
  });

  it('kv.mdx › acquire › a plain update without acquire proceeds even though another session holds the lock', async () => {
    const key = uniqueKey('plain-over-lock');
    const session = await consul.session({});
    await consul.put(`/v1/kv/${key}?acquire=${session}`, 'locked');
    expect((await consul.put(`/v1/kv/${key}`, 'overwritten')).text).toBe('true');
    const entry = await entryOf(consul, key);
    expect(decode(entry?.Value)).toBe('overwritten');
    expect(entry?.Session).toBe(session); // the lock itself is untouched
  });
});

describe('kv.mdx › Create/Update Key › release', () => {
  it('kv.mdx › release › clears Session, keeps LockIndex, increments ModifyIndex, stores the request body', async () => {
    const key = uniqueKey('release');
    const session = await consul.session({});
    await consul.put(`/v1/kv/${key}?acquire=${session}`, 'held');
    const held = await entryOf(consul, key);
    expect((await consul.put(`/v1/kv/${key}?release=${session}`, 'released')).text).toBe('true');
    const released = await entryOf(consul, key);
    expect(released?.Session).toBeUndefined();
    expect(released?.LockIndex).toBe(held?.LockIndex);
    expect(released?.ModifyIndex).toBeGreaterThan(held?.ModifyIndex ?? Number.POSITIVE_INFINITY);
    expect(decode(released?.Value)).toBe('released');
  });

  it('kv.mdx › release › the key must be held by the releasing session', async () => {
    const key = uniqueKey('release-other');
    const [a, b] = [await consul.session({}), await consul.session({})];
    await consul.put(`/v1/kv/${key}?acquire=${a}`);
    expect((await consul.put(`/v1/kv/${key}?release=${b}`)).text).toBe('false');
    expect((await entryOf(consul, key))?.Session).toBe(a);
    expect((await consul.put(`/v1/kv/${uniqueKey('release-missing')}?release=${a}`)).text).toBe('false');
  });
});

describe('Sessions overview › Session Design › behavior on invalidation', () => {
  it('Sessions overview › release behavior › invalidation releases held locks and increments their ModifyIndex', async () => {
    const key = uniqueKey('behavior-release');
    const session = await consul.session({ Behavior: 'release', LockDelay: '0s' });
    await consul.put(`/v1/kv/${key}?acquire=${session}`, 'kept');
    const held = await entryOf(consul, key);
    await consul.put(`/v1/session/destroy/${session}`);
    const after = await entryOf(consul, key);
    expect(after?.Session).toBeUndefined();
    expect(after?.LockIndex).toBe(held?.LockIndex);
    expect(decode(after?.Value)).toBe('kept');
    expect(after?.ModifyIndex).toBeGreaterThan(held?.ModifyIndex ?? Number.POSITIVE_INFINITY);
  });

  it('Sessions overview › delete behavior › invalidation deletes the keys the session held', async () => {
    const held = uniqueKey('behavior-delete');
    const untouched = uniqueKey('behavior-delete-free');
    const session = await consul.session({ Behavior: 'delete' });
    await consul.put(`/v1/kv/${held}?acquire=${session}`, 'x');
    await consul.put(`/v1/kv/${untouched}`, 'x');
    await consul.put(`/v1/session/destroy/${session}`);
    expect(await entryOf(consul, held)).toBeUndefined();
    expect(await entryOf(consul, untouched)).toBeDefined();
  });

  it('Sessions overview › TTL › expiry applies the behavior too (and wakes a monitoring blocking query)', async () => {
    await withEmulator({ sessionTtlMinMs: 100 }, async (local) => {
      const key = uniqueKey('ttl-release');
      const session = await local.session({ TTL: '200ms', LockDelay: '0s' });
      await local.put(`/v1/kv/${key}?acquire=${session}`, 'x');
      const held = await local.call(`/v1/kv/${key}`);
      const watch = await local.call(`/v1/kv/${key}?index=${held.index}&wait=5s`);
      expect(watch.index).toBeGreaterThan(held.index);
      expect(watch.json<KvEntryJson[]>()[0]?.Session).toBeUndefined();
    });
  });
});

describe('Sessions overview › Session Design › lock-delay', () => {
  it('Sessions overview › lock-delay › after invalidation the key cannot be acquired until the lock-delay has passed', async () => {
    const key = uniqueKey('lock-delay');
    const [holder, next] = [await consul.session({ LockDelay: '400ms' }), await consul.session({})];
    await consul.put(`/v1/kv/${key}?acquire=${holder}`);
    const invalidatedAt = performance.now();
    await consul.put(`/v1/session/destroy/${holder}`);
    expect((await entryOf(consul, key))?.Session).toBeUndefined(); // free, yet not acquirable
    expect((await consul.put(`/v1/kv/${key}?acquire=${next}`)).text).toBe('false');
    // Lock-delay is invisible through the API, so a bounded poll is the only way to see it end.
    let acquired = false;
    while (!acquired && performance.now() - invalidatedAt < 5_000) {
      acquired = (await consul.put(`/v1/kv/${key}?acquire=${next}`)).text === 'true';
      if (!acquired) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const elapsed = performance.now() - invalidatedAt;
    expect(acquired).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(400 + 2_000);
  });

  it('Sessions overview › lock-delay › the default is 15 s', async () => {
    const clock = new ManualClock();
    await withEmulator({ clock }, async (local) => {
      const key = uniqueKey('lock-delay-default');
      const [holder, next] = [await local.session({}), await local.session({})];
      await local.put(`/v1/kv/${key}?acquire=${holder}`);
      await local.put(`/v1/session/destroy/${holder}`);
      clock.advance(14_999);
      expect((await local.put(`/v1/kv/${key}?acquire=${next}`)).text).toBe('false');
      clock.advance(1);
      expect((await local.put(`/v1/kv/${key}?acquire=${next}`)).text).toBe('true');
    });
  });

  it('Sessions overview › lock-delay › is between 0 and 60 seconds: longer values are capped at 60 s', async () => {
    const clock = new ManualClock();
    await withEmulator({ clock }, async (local) => {
      const key = uniqueKey('lock-delay-cap');
      const [holder, next] = [await local.session({ LockDelay: '120s' }), await local.session({})];
      await local.put(`/v1/kv/${key}?acquire=${holder}`);
      await local.put(`/v1/session/destroy/${holder}`);
      clock.advance(59_999);
      expect((await local.put(`/v1/kv/${key}?acquire=${next}`)).text).toBe('false');
      clock.advance(1);
      expect((await local.put(`/v1/kv/${key}?acquire=${next}`)).text).toBe('true');
    });
  });

  it('Sessions overview › lock-delay › a zero delay disables the mechanism', async () => {
    const key = uniqueKey('lock-delay-zero');
    const [holder, next] = [await consul.session({ LockDelay: '0s' }), await consul.session({})];
    await consul.put(`/v1/kv/${key}?acquire=${holder}`);
    await consul.put(`/v1/session/destroy/${holder}`);
    expect((await consul.put(`/v1/kv/${key}?acquire=${next}`)).text).toBe('true');
  });

  it('Sessions overview › lock-delay › applies only to locks held at invalidation: a released key is free at once', async () => {
    const key = uniqueKey('lock-delay-released');
    const [holder, next] = [await consul.session({ LockDelay: '60s' }), await consul.session({})];
    await consul.put(`/v1/kv/${key}?acquire=${holder}`);
    await consul.put(`/v1/kv/${key}?release=${holder}`);
    await consul.put(`/v1/session/destroy/${holder}`);
    expect((await consul.put(`/v1/kv/${key}?acquire=${next}`)).text).toBe('true');
  });

  it('Sessions overview › lock-delay › blocks acquisition only; plain writes and deletes still work', async () => {
    const key = uniqueKey('lock-delay-writes');
    const holder = await consul.session({ LockDelay: '60s' });
    await consul.put(`/v1/kv/${key}?acquire=${holder}`);
    await consul.put(`/v1/session/destroy/${holder}`);
    expect((await consul.put(`/v1/kv/${key}`, 'plain')).text).toBe('true');
    expect((await consul.call(`/v1/kv/${key}`, { method: 'DELETE' })).text).toBe('true');
  });

  it('Sessions overview › lock-delay › holds for a key the delete behavior removed', async () => {
    const key = uniqueKey('lock-delay-deleted');
    const [holder, next] = [
      await consul.session({ Behavior: 'delete', LockDelay: '60s' }),
      await consul.session({}),
    ];
    await consul.put(`/v1/kv/${key}?acquire=${holder}`);
    await consul.put(`/v1/session/destroy/${holder}`);
    expect(await entryOf(consul, key)).toBeUndefined();
    expect((await consul.put(`/v1/kv/${key}?acquire=${next}`)).text).toBe('false');
  });
});

describe('Sessions overview › monitoring a lock', () => {
  it('blocking.mdx + K/V Integration › a holder watching its key sees Session change when another client releases it by force', async () => {
    const key = uniqueKey('monitor');
    const session = await consul.session({});
    await consul.put(`/v1/kv/${key}?acquire=${session}`);
    const held = await consul.call(`/v1/kv/${key}`);
    const watch = consul.call(`/v1/kv/${key}?index=${held.index}&wait=10s`);
    expect(await settlesWithin(watch, 200)).toBe(false);
    // The Sessions overview: a lock can be released without being the session's creator.
    await consul.put(`/v1/kv/${key}?release=${session}`);
    const changed = await watch;
    expect(changed.json<KvEntryJson[]>()[0]?.Session).toBeUndefined();
  });
});
