/** The KV store without locks, checked against kv.mdx (Read Key, Create/Update Key, Delete Key). */
import { describe, expect, it } from 'vitest';
import { type KvEntryJson, uniqueKey, useTestEmulator } from './test-support.js';

const consul = useTestEmulator();

async function entry(key: string): Promise<KvEntryJson> {
  const reply = await consul.call(`/v1/kv/${key}`);
  expect(reply.status).toBe(200);
  const [found] = reply.json<KvEntryJson[]>();
  if (!found) throw new Error(`no entry for ${key}`);
  return found;
}

describe('kv.mdx › Read Key', () => {
  it('kv.mdx › Read Key › a missing key answers 404, still with X-Consul-Index', async () => {
    const reply = await consul.call(`/v1/kv/${uniqueKey('missing')}`);
    expect(reply.status).toBe(404);
    expect(reply.index).toBeGreaterThanOrEqual(1);
  });

  it('kv.mdx › Read Key › Metadata Response: Key, base64 Value, Flags, LockIndex, CreateIndex, ModifyIndex', async () => {
    const key = uniqueKey('meta');
    await consul.put(`/v1/kv/${key}`, 'test');
    const reply = await consul.call(`/v1/kv/${key}`);
    expect(reply.headers.get('content-type')).toContain('application/json');
    const [found] = reply.json<KvEntryJson[]>();
    expect(found).toEqual({
      Key: key,
      Value: 'dGVzdA==',
      Flags: 0,
      LockIndex: 0,
      CreateIndex: expect.any(Number),
      ModifyIndex: expect.any(Number),
    });
    // ModifyIndex corresponds to the X-Consul-Index of the same read.
    expect(reply.index).toBe(found?.ModifyIndex);
  });

  it('kv.mdx › Read Key › ?raw answers the stored bytes as text/plain', async () => {
    const key = uniqueKey('raw');
    const bytes = new Uint8Array([0, 255, 1, 254, 10]);
    await consul.put(`/v1/kv/${key}`, bytes);
    const response = await fetch(`${consul.emulator.httpUrl}/v1/kv/${key}?raw`);
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it('kv.mdx › Read Key › ?recurse lists every key under the prefix in key order; X-Consul-Index is the newest ModifyIndex', async () => {
    const prefix = `${uniqueKey('tree')}/`;
    for (const name of ['b', 'a', 'c/d']) await consul.put(`/v1/kv/${prefix}${name}`, name);
    await consul.put(`/v1/kv/${uniqueKey('elsewhere')}`, 'x'); // newer write outside the prefix
    const reply = await consul.call(`/v1/kv/${prefix}?recurse`);
    const entries = reply.json<KvEntryJson[]>();
    expect(entries.map((e) => e.Key)).toEqual([`${prefix}a`, `${prefix}b`, `${prefix}c/d`]);
    expect(reply.index).toBe(Math.max(...entries.map((e) => e.ModifyIndex)));
    expect((await consul.call(`/v1/kv/${uniqueKey('empty')}/?recurse`)).status).toBe(404);
  });

  it('kv.mdx › Read Key › ?keys lists names only; ?separator stops each name after the separator', async () => {
    const prefix = `${uniqueKey('keys')}/`;
    for (const name of ['bar', 'foo', 'subdir/x', 'subdir/y'])
      await consul.put(`/v1/kv/${prefix}${name}`, '1');
    const all = (await consul.call(`/v1/kv/${prefix}?keys`)).json<string[]>();
    expect(all).toEqual([`${prefix}bar`, `${prefix}foo`, `${prefix}subdir/x`, `${prefix}subdir/y`]);
    const folded = (await consul.call(`/v1/kv/${prefix}?keys&separator=/`)).json<string[]>();
    expect(folded).toEqual([`${prefix}bar`, `${prefix}foo`, `${prefix}subdir/`]);
  });

  it('kv.mdx › Read Key › a GET without a key name is refused unless it lists', async () => {
    expect((await consul.call('/v1/kv/')).status).toBe(400);
    expect((await consul.call('/v1/kv/?keys')).status).toBe(200);
  });
});

describe('kv.mdx › Create/Update Key', () => {
  it('kv.mdx › Create/Update Key › answers true; CreateIndex stays, ModifyIndex moves on update', async () => {
    const key = uniqueKey('update');
    const created = await consul.put(`/v1/kv/${key}`, 'one');
    expect(created.text).toBe('true');
    const first = await entry(key);
    await consul.put(`/v1/kv/${key}`, 'two');
    const second = await entry(key);
    expect(second.CreateIndex).toBe(first.CreateIndex);
    expect(second.ModifyIndex).toBeGreaterThan(first.ModifyIndex);
    expect(Buffer.from(second.Value ?? '', 'base64').toString()).toBe('two');
  });

  it('kv.mdx › ModifyIndex › indexes come from one global counter that every write (KV or session) advances', async () => {
    const a = uniqueKey('global-a');
    const b = uniqueKey('global-b');
    await consul.put(`/v1/kv/${a}`, '1');
    const afterA = (await entry(a)).ModifyIndex;
    await consul.session({});
    await consul.put(`/v1/kv/${b}`, '1');
    const afterB = (await entry(b)).ModifyIndex;
    expect(afterB).toBeGreaterThan(afterA + 1); // the session create took an index in between
  });

  it('kv.mdx › Create/Update Key › an empty body stores an empty value (read back as null)', async () => {
    const key = uniqueKey('empty-value');
    await consul.put(`/v1/kv/${key}`);
    expect((await entry(key)).Value).toBeNull();
  });

  it('kv.mdx › Create/Update Key › flags stores an unsigned 64-bit value exactly', async () => {
    const key = uniqueKey('flags');
    const flags = '3304740253564472344'; // 0x2ddccbc058a50c18, beyond 2^53
    await consul.put(`/v1/kv/${key}?flags=${flags}`, 'x');
    const reply = await consul.call(`/v1/kv/${key}`);
    expect(reply.text).toContain(`"Flags":${flags}`);
    expect((await consul.put(`/v1/kv/${key}?flags=18446744073709551616`, 'x')).status).toBe(400);
    expect((await consul.put(`/v1/kv/${key}?flags=-1`, 'x')).status).toBe(400);
  });

  it('kv.mdx › Create/Update Key › cas=0 creates only if the key does not exist', async () => {
    const key = uniqueKey('cas0');
    expect((await consul.put(`/v1/kv/${key}?cas=0`, 'first')).text).toBe('true');
    expect((await consul.put(`/v1/kv/${key}?cas=0`, 'second')).text).toBe('false');
    expect(Buffer.from((await entry(key)).Value ?? '', 'base64').toString()).toBe('first');
  });

  it('kv.mdx › Create/Update Key › cas=N writes only if N equals the current ModifyIndex', async () => {
    const key = uniqueKey('casN');
    await consul.put(`/v1/kv/${key}`, '1');
    const { ModifyIndex } = await entry(key);
    expect((await consul.put(`/v1/kv/${key}?cas=${ModifyIndex + 1}`, 'stale')).text).toBe('false');
    expect((await consul.put(`/v1/kv/${key}?cas=${ModifyIndex}`, '2')).text).toBe('true');
    expect((await consul.put(`/v1/kv/${key}?cas=${ModifyIndex}`, '3')).text).toBe('false');
    expect((await consul.put(`/v1/kv/${uniqueKey('casN-missing')}?cas=5`, 'x')).text).toBe('false');
  });

  it('kv.mdx › Create/Update Key › cas, acquire and release cannot be combined', async () => {
    const key = uniqueKey('conflict');
    const reply = await consul.put(`/v1/kv/${key}?cas=0&acquire=0b2c3d4e-0000-4000-8000-000000000000`, 'x');
    expect(reply.status).toBe(400);
    expect((await consul.call(`/v1/kv/${key}`)).status).toBe(404);
  });

  it('kv.mdx › Create/Update Key › a PUT without a key name is refused', async () => {
    expect((await consul.put('/v1/kv/', 'x')).status).toBe(400);
  });

  it('kv.mdx › Values cannot be larger than 512kb', async () => {
    const key = uniqueKey('large');
    expect((await consul.put(`/v1/kv/${key}`, new Uint8Array(512 * 1024))).status).toBe(200);
    expect((await consul.put(`/v1/kv/${key}`, new Uint8Array(512 * 1024 + 1))).status).toBe(413);
  });

  it('kv.mdx › ModifyIndex is the last index that modified the key › a write that changes nothing keeps it (README › Ambiguities)', async () => {
    const key = uniqueKey('idempotent');
    await consul.put(`/v1/kv/${key}?flags=7`, 'same');
    const before = await entry(key);
    await consul.put(`/v1/kv/${key}?flags=7`, 'same');
    expect((await entry(key)).ModifyIndex).toBe(before.ModifyIndex);
    await consul.put(`/v1/kv/${key}?flags=8`, 'same');
    expect((await entry(key)).ModifyIndex).toBeGreaterThan(before.ModifyIndex);
  });
});

describe('kv.mdx › Delete Key', () => {
  it('kv.mdx › Delete Key › deletes one key and answers true (also for a missing key)', async () => {
    const key = uniqueKey('delete');
    await consul.put(`/v1/kv/${key}`, 'x');
    await consul.put(`/v1/kv/${key}-sibling`, 'x');
    const reply = await consul.call(`/v1/kv/${key}`, { method: 'DELETE' });
    expect(reply.text).toBe('true');
    expect((await consul.call(`/v1/kv/${key}`)).status).toBe(404);
    expect((await consul.call(`/v1/kv/${key}-sibling`)).status).toBe(200);
    expect((await consul.call(`/v1/kv/${key}`, { method: 'DELETE' })).text).toBe('true');
  });

  it('kv.mdx › Delete Key › ?recurse deletes every key with the prefix', async () => {
    const prefix = `${uniqueKey('delete-tree')}/`;
    for (const name of ['a', 'b/c']) await consul.put(`/v1/kv/${prefix}${name}`, 'x');
    const outside = `${prefix.slice(0, -1)}-outside`;
    await consul.put(`/v1/kv/${outside}`, 'x');
    await consul.call(`/v1/kv/${prefix}?recurse`, { method: 'DELETE' });
    expect((await consul.call(`/v1/kv/${prefix}?recurse`)).status).toBe(404);
    expect((await consul.call(`/v1/kv/${outside}`)).status).toBe(200);
  });

  it('kv.mdx › Delete Key › cas=0 never deletes; cas=N deletes only when N equals ModifyIndex', async () => {
    const key = uniqueKey('delete-cas');
    await consul.put(`/v1/kv/${key}`, 'x');
    const { ModifyIndex } = await entry(key);
    expect((await consul.call(`/v1/kv/${key}?cas=0`, { method: 'DELETE' })).text).toBe('false');
    expect((await consul.call(`/v1/kv/${key}?cas=${ModifyIndex + 1}`, { method: 'DELETE' })).text).toBe(
      'false',
    );
    expect((await consul.call(`/v1/kv/${key}`)).status).toBe(200);
    expect((await consul.call(`/v1/kv/${key}?cas=${ModifyIndex}`, { method: 'DELETE' })).text).toBe('true');
    expect((await consul.call(`/v1/kv/${key}`)).status).toBe(404);
  });

  it('kv.mdx › Delete Key › a recreated key gets a new CreateIndex and its LockIndex starts over', async () => {
    const key = uniqueKey('recreate');
    const session = await consul.session({});
    await consul.put(`/v1/kv/${key}?acquire=${session}`, 'x');
    const first = await entry(key);
    expect(first.LockIndex).toBe(1);
    await consul.put(`/v1/kv/${key}?release=${session}`);
    await consul.call(`/v1/kv/${key}`, { method: 'DELETE' });
    await consul.put(`/v1/kv/${key}?acquire=${session}`, 'x');
    const second = await entry(key);
    expect(second.CreateIndex).toBeGreaterThan(first.CreateIndex);
    expect(second.LockIndex).toBe(1);
  });
});
