/**
 * Sessions, checked against session.mdx (HTTP API) and the Sessions overview
 * (docs › Sessions and Distributed Locks Overview › Session Design).
 */
import { describe, expect, it } from 'vitest';
import { ConsulEmulatorOptionError } from './options.js';
import { startConsulEmulator } from './server.js';
import {
  ManualClock,
  settlesWithin,
  type TestEmulator,
  useTestEmulator,
  withEmulator,
} from './test-support.js';

interface SessionJson {
  ID: string;
  Name: string;
  Node: string;
  LockDelay: number;
  Behavior: string;
  TTL: string;
  NodeChecks: string[];
  CreateIndex: number;
  ModifyIndex: number;
}

const consul = useTestEmulator();

describe('session.mdx › Create Session', () => {
  it('session.mdx › Create Session › answers {ID} and applies the documented defaults (release, 15s lock-delay, no TTL)', async () => {
    const created = await consul.put('/v1/session/create');
    expect(created.status).toBe(200);
    const { ID } = created.json<{ ID: string }>();
    expect(ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const [session] = (await consul.call(`/v1/session/info/${ID}`)).json<SessionJson[]>();
    expect(session).toMatchObject({ ID, Behavior: 'release', LockDelay: 15_000_000_000, TTL: '' });
    expect(session?.CreateIndex).toBeGreaterThan(0);
  });

  it('session.mdx › Create Session › TTL must be between 10s and 86400s', async () => {
    for (const ttl of ['9s', '9999ms', '86401s', '25h', '-10s']) {
      const reply = await consul.put('/v1/session/create', JSON.stringify({ TTL: ttl }));
      expect(reply.status, `TTL ${ttl}`).toBe(400);
    }
    for (const ttl of ['10s', '86400s', '24h', '1m', '1h30m']) {
      const reply = await consul.put('/v1/session/create', JSON.stringify({ TTL: ttl }));
      expect(reply.status, `TTL ${ttl}`).toBe(200);
    }
  });

  it('session.mdx › Create Session › TTL takes Go duration units ("s", "m", "h"); anything else is refused', async () => {
    for (const ttl of ['30', 'ten seconds', '10x', '1.5']) {
      const reply = await consul.put('/v1/session/create', JSON.stringify({ TTL: ttl }));
      expect(reply.status, `TTL ${ttl}`).toBe(400);
    }
    const id = await consul.session({ TTL: '2m' });
    const [session] = (await consul.call(`/v1/session/info/${id}`)).json<SessionJson[]>();
    expect(session?.TTL).toBe('2m');
  });

  it('session.mdx › Create Session › Behavior is "release" or "delete"', async () => {
    const deleting = await consul.session({ Behavior: 'delete' });
    const [session] = (await consul.call(`/v1/session/info/${deleting}`)).json<SessionJson[]>();
    expect(session?.Behavior).toBe('delete');
    const reply = await consul.put('/v1/session/create', JSON.stringify({ Behavior: 'destroy' }));
    expect(reply.status).toBe(400);
  });

  it('session.mdx › Create Session › LockDelay takes a duration; 0 disables it (Sessions overview); negative is refused', async () => {
    const cases: Array<[unknown, number]> = [
      ['30s', 30e9],
      ['250ms', 250e6],
      ['0s', 0],
      [5, 5e9], // a bare small number means seconds
    ];
    for (const [lockDelay, expected] of cases) {
      const id = await consul.session({ LockDelay: lockDelay });
      const [session] = (await consul.call(`/v1/session/info/${id}`)).json<SessionJson[]>();
      expect(session?.LockDelay, `LockDelay ${String(lockDelay)}`).toBe(expected);
    }
    expect((await consul.put('/v1/session/create', JSON.stringify({ LockDelay: '-1s' }))).status).toBe(400);
    expect((await consul.put('/v1/session/create', JSON.stringify({ LockDelay: 'soon' }))).status).toBe(400);
  });

  it('session.mdx › Create Session › Name, Node and Checks are accepted; field names match case-insensitively', async () => {
    const id = await consul.session({ name: 'worker-7', node: 'node-a', checks: [], ttl: '15s' });
    const [session] = (await consul.call(`/v1/session/info/${id}`)).json<SessionJson[]>();
    expect(session).toMatchObject({ Name: 'worker-7', Node: 'node-a', NodeChecks: [], TTL: '15s' });
  });

  it('session.mdx › Create Session › a body that is not a JSON object is refused with 400', async () => {
    expect((await consul.put('/v1/session/create', '{"TTL":')).status).toBe(400);
    expect((await consul.put('/v1/session/create', '["TTL"]')).status).toBe(400);
  });
});

describe('session.mdx › Read Session / List Sessions', () => {
  it('session.mdx › Read Session › an unknown session reads as an empty list, with X-Consul-Index', async () => {
    const reply = await consul.call('/v1/session/info/0b2c3d4e-0000-4000-8000-000000000000');
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual([]);
    expect(reply.index).toBeGreaterThanOrEqual(1);
  });

  it('session.mdx › List Sessions › lists live sessions and drops destroyed ones', async () => {
    const id = await consul.session({ Name: 'listed' });
    const listed = (await consul.call('/v1/session/list')).json<SessionJson[]>();
    expect(listed.map((s) => s.ID)).toContain(id);
    await consul.put(`/v1/session/destroy/${id}`);
    const after = (await consul.call('/v1/session/list')).json<SessionJson[]>();
    expect(after.map((s) => s.ID)).not.toContain(id);
  });

  it('session.mdx › Read Session › supports blocking queries: returns when the session table changes', async () => {
    const id = await consul.session({});
    const first = await consul.call(`/v1/session/info/${id}`);
    const pending = consul.call(`/v1/session/info/${id}?index=${first.index}&wait=10s`);
    expect(await settlesWithin(pending, 200)).toBe(false);
    await consul.put(`/v1/session/destroy/${id}`);
    const changed = await pending;
    expect(changed.json()).toEqual([]);
    expect(changed.index).toBeGreaterThan(first.index);
  });
});

describe('session.mdx › Renew Session / Delete Session', () => {
  it('session.mdx › Renew Session › answers the session as a one-element array', async () => {
    const id = await consul.session({ TTL: '30s', Name: 'renewed' });
    const reply = await consul.put(`/v1/session/renew/${id}`);
    expect(reply.status).toBe(200);
    expect(reply.json<SessionJson[]>()).toEqual([
      expect.objectContaining({ ID: id, TTL: '30s', Name: 'renewed' }),
    ]);
  });

  it('session.mdx › Renew Session › an unknown or destroyed session answers 404', async () => {
    const unknown = await consul.put('/v1/session/renew/0b2c3d4e-0000-4000-8000-000000000001');
    expect(unknown.status).toBe(404);
    const id = await consul.session({ TTL: '30s' });
    await consul.put(`/v1/session/destroy/${id}`);
    expect((await consul.put(`/v1/session/renew/${id}`)).status).toBe(404);
  });

  it('session.mdx › Delete Session › answers true and is idempotent for unknown or expired IDs', async () => {
    const id = await consul.session({});
    expect((await consul.put(`/v1/session/destroy/${id}`)).text).toBe('true');
    expect((await consul.put(`/v1/session/destroy/${id}`)).text).toBe('true');
    expect((await consul.call(`/v1/session/info/${id}`)).json()).toEqual([]);
  });

  it('session.mdx › Delete Session › a malformed session UUID is an error', async () => {
    const reply = await consul.put('/v1/session/destroy/not-a-uuid');
    expect(reply.status).toBeGreaterThanOrEqual(400);
  });
});

describe('Sessions overview › Session Design › TTL', () => {
  async function sessionExists(consul: TestEmulator, id: string): Promise<boolean> {
    return (await consul.call(`/v1/session/info/${id}`)).json<unknown[]>().length === 1;
  }

  it('Sessions overview › TTL › never invalidated before the TTL; invalidated at invalidationFactor × TTL after the last renewal', async () => {
    const clock = new ManualClock();
    await withEmulator({ clock, invalidationFactor: 1.5 }, async (consul) => {
      const id = await consul.session({ TTL: '10s' });
      clock.advance(9_999);
      expect(await sessionExists(consul, id)).toBe(true);
      clock.advance(5_000); // 14.999 s
      expect(await sessionExists(consul, id)).toBe(true);
      clock.advance(1); // 15 s = 1.5 × TTL
      expect(await sessionExists(consul, id)).toBe(false);
    });
  });

  it('Sessions overview › TTL › the default invalidation point is 2 × TTL, the upper end session.mdx allows', async () => {
    const clock = new ManualClock();
    await withEmulator({ clock }, async (consul) => {
      const id = await consul.session({ TTL: '10s' });
      clock.advance(19_999);
      expect(await sessionExists(consul, id)).toBe(true);
      clock.advance(1);
      expect(await sessionExists(consul, id)).toBe(false);
    });
  });

  it('Sessions overview › TTL › a renewal restarts the countdown from the renewal', async () => {
    const clock = new ManualClock();
    await withEmulator({ clock }, async (consul) => {
      const id = await consul.session({ TTL: '10s' });
      clock.advance(15_000);
      expect((await consul.put(`/v1/session/renew/${id}`)).status).toBe(200);
      clock.advance(19_999); // 34.999 s after create, 19.999 s after the renewal
      expect(await sessionExists(consul, id)).toBe(true);
      clock.advance(1);
      expect(await sessionExists(consul, id)).toBe(false);
      expect((await consul.put(`/v1/session/renew/${id}`)).status).toBe(404);
    });
  });

  it('Sessions overview › TTL › invalidation happens on real timers (session_ttl_min lowered to keep the test short)', async () => {
    await withEmulator({ sessionTtlMinMs: 100 }, async (consul) => {
      const id = await consul.session({ TTL: '300ms' });
      const started = performance.now();
      let index = (await consul.call(`/v1/session/info/${id}`)).index;
      for (;;) {
        const reply = await consul.call(`/v1/session/info/${id}?index=${index}&wait=5s`);
        if (reply.json<unknown[]>().length === 0) break;
        index = reply.index;
      }
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(300);
      expect(elapsed).toBeLessThan(600 + 2_000);
    });
  });

  it('agent config › session_ttl_min › the minimum TTL is configurable; 86400s stays the maximum', async () => {
    await withEmulator({ sessionTtlMinMs: 1_000 }, async (consul) => {
      expect((await consul.put('/v1/session/create', JSON.stringify({ TTL: '1s' }))).status).toBe(200);
      expect((await consul.put('/v1/session/create', JSON.stringify({ TTL: '999ms' }))).status).toBe(400);
      expect((await consul.put('/v1/session/create', JSON.stringify({ TTL: '86401s' }))).status).toBe(400);
    });
  });

  it('emulator options › invalidationFactor outside 1–2 and other bad options are refused before anything starts', async () => {
    await expect(startConsulEmulator({ invalidationFactor: 0.5 })).rejects.toBeInstanceOf(
      ConsulEmulatorOptionError,
    );
    await expect(startConsulEmulator({ invalidationFactor: 2.5 })).rejects.toBeInstanceOf(
      ConsulEmulatorOptionError,
    );
    await expect(startConsulEmulator({ sessionTtlMinMs: 0 })).rejects.toBeInstanceOf(
      ConsulEmulatorOptionError,
    );
    await expect(startConsulEmulator({ port: 70_000 })).rejects.toBeInstanceOf(ConsulEmulatorOptionError);
  });
});
