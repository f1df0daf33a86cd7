/**
 * The HTTP surface around the endpoints: emulator identification, liveness endpoints, routing the
 * way Consul's Go router does, and the key checks newer Consul agents apply by default.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { uniqueKey, useTestEmulator, withEmulator } from './test-support.js';

function rawGet(port: number, path: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

const consul = useTestEmulator();

describe('emulator identity and liveness', () => {
  it('emulator label › every response, errors included, carries X-Lockstep-Emulator: true', async () => {
    for (const reply of [
      await consul.call('/v1/status/leader'),
      await consul.call(`/v1/kv/${uniqueKey('missing')}`),
      await consul.call('/v1/does-not-exist'),
      await consul.put('/v1/session/create', '{'),
    ]) {
      expect(reply.headers.get('x-lockstep-emulator')).toBe('true');
    }
  });

  it('status.mdx › Get Raft Leader › answers the leader address as a JSON string', async () => {
    const reply = await consul.call('/v1/status/leader');
    expect(reply.status).toBe(200);
    expect(reply.json()).toBe('127.0.0.1:8300');
    expect((await consul.call('/v1/status/peers')).json()).toEqual(['127.0.0.1:8300']);
  });

  it('agent › Read Configuration (/v1/agent/self) › answers Config and Member and says it is an emulator', async () => {
    const self = (await consul.call('/v1/agent/self')).json<{
      Config: { Datacenter: string; NodeName: string; Version: string };
      LockstepEmulator: { Emulator: boolean };
    }>();
    expect(self.Config.Datacenter).toBe('dc1');
    expect(self.Config.Version).toContain('emulator');
    expect(self.LockstepEmulator.Emulator).toBe(true);
  });

  it('emulator › the URL it reports is consul://HOST:PORT for lockstep and http://HOST:PORT for plain clients', () => {
    expect(consul.emulator.url).toBe(`consul://127.0.0.1:${consul.emulator.port}`);
    expect(consul.emulator.httpUrl).toBe(`http://127.0.0.1:${consul.emulator.port}`);
  });
});

describe('routing (Consul agent HTTP router)', () => {
  it('api-structure › an endpoint answers 405 to a method it does not document, and OPTIONS lists the allowed ones', async () => {
    expect((await consul.call('/v1/session/create')).status).toBe(405);
    expect((await consul.call('/v1/txn')).status).toBe(405);
    expect((await consul.put('/v1/session/info/0b2c3d4e-0000-4000-8000-000000000000')).status).toBe(405);
    const options = await consul.call('/v1/kv/x', { method: 'OPTIONS' });
    expect(options.headers.get('allow')).toBe('OPTIONS,GET,PUT,DELETE');
  });

  it('api-structure › an unknown path answers 404', async () => {
    expect((await consul.call('/v1/catalog/services')).status).toBe(404);
  });

  it('Go ServeMux (Consul router) › a non-canonical path (empty or dot segments) redirects 301 to the cleaned path', async () => {
    for (const [path, location] of [
      ['/v1/kv/a//b', '/v1/kv/a/b'],
      ['/v1/kv/a/./b?raw', '/v1/kv/a/b?raw'],
      ['/v1/kv//leading', '/v1/kv/leading'],
      ['/v1/kv/a/../b', '/v1/kv/b'],
      ['/v1/kv', '/v1/kv/'],
    ] as const) {
      // node:http sends the path untouched; fetch would normalise dot segments before sending.
      const reply = await rawGet(consul.emulator.port, path);
      expect(reply.status, path).toBe(301);
      expect(reply.location, path).toBe(location);
    }
  });

  it('kv.mdx › keys are percent-decoded from the path: a%2Fb is the key a/b; %25 is a literal percent', async () => {
    const base = uniqueKey('escape');
    await consul.put(`/v1/kv/${base}/a%2Fb`, 'slash');
    expect((await consul.call(`/v1/kv/${base}/a/b`)).status).toBe(200);
    await consul.put(`/v1/kv/${base}/100%25`, 'percent');
    const [entry] = (await consul.call(`/v1/kv/${base}/100%25`)).json<Array<{ Key: string }>>();
    expect(entry?.Key).toBe(`${base}/100%`);
    expect((await consul.call(`/v1/kv/${base}/bad%zz`)).status).toBe(400);
  });

  it('agent config › disable_http_unprintable_char_filter › paths with unprintable characters are refused', async () => {
    for (const escaped of ['%0A', '%00', '%E2%80%8B' /* zero-width space */, '%C2%A0' /* no-break space */]) {
      expect((await consul.put(`/v1/kv/${uniqueKey('unprintable')}${escaped}x`, 'x')).status, escaped).toBe(
        400,
      );
    }
    expect((await consul.put(`/v1/kv/${uniqueKey('printable')}/caf%C3%A9 ok`, 'x')).status).toBe(200);
  });

  it('agent config › disable_kv_key_validation › encoded traversal and leading/trailing whitespace are refused by default', async () => {
    expect((await consul.put('/v1/kv/a/%2e%2e%2fb', 'x')).status).toBe(400);
    expect((await consul.put(`/v1/kv/${uniqueKey('space')}%20`, 'x')).status).toBe(400);
    await withEmulator({ kvKeyValidation: false }, async (lenient) => {
      expect((await lenient.put(`/v1/kv/${uniqueKey('space')}%20`, 'x')).status).toBe(200);
    });
  });

  it('api-structure › dc › the emulator is datacenter dc1; another datacenter has no path', async () => {
    const key = uniqueKey('dc');
    expect((await consul.put(`/v1/kv/${key}?dc=dc1`, 'x')).status).toBe(200);
    expect((await consul.call(`/v1/kv/${key}?dc=dc2`)).status).toBe(500);
  });
});
