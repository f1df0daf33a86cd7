/** Transactions, checked against txn.mdx (Create Transaction, Tables of Operations › KV Operations). */
import { describe, expect, it } from 'vitest';
import { type KvEntryJson, type Reply, uniqueKey, useTestEmulator } from './test-support.js';

interface KvResultJson {
  KV: KvEntryJson;
}
interface TxnJson {
  Results: KvResultJson[] | null;
  Errors: Array<{ OpIndex: number; What: string }> | null;
}

const consul = useTestEmulator();

const b64 = (text: string) => Buffer.from(text).toString('base64');
const txn = (ops: unknown[]): Promise<Reply> =>
  consul.put('/v1/txn', JSON.stringify(ops.map((KV) => ({ KV }))));

describe('txn.mdx › Create Transaction', () => {
  it('txn.mdx › lock + get in one transaction: both results carry the same ModifyIndex, the fencing value', async () => {
    const key = uniqueKey('lock-get');
    const session = await consul.session({});
    const reply = await txn([
      { Verb: 'lock', Key: key, Value: b64('owner'), Session: session },
      { Verb: 'get', Key: key },
    ]);
    expect(reply.status).toBe(200);
    const body = reply.json<TxnJson>();
    expect(body.Errors).toBeNull();
    const [locked, read] = body.Results ?? [];
    expect(locked?.KV).toMatchObject({ Key: key, Session: session, LockIndex: 1, Value: null });
    expect(read?.KV).toMatchObject({ Key: key, Session: session, Value: b64('owner') });
    expect(read?.KV.ModifyIndex).toBe(locked?.KV.ModifyIndex);
    const plain = (await consul.call(`/v1/kv/${key}`)).json<Array<{ ModifyIndex: number }>>();
    expect(plain[0]?.ModifyIndex).toBe(read?.KV.ModifyIndex);
  });

  it('txn.mdx › every write in a transaction carries the same index, higher than any before it', async () => {
    const [a, b] = [uniqueKey('same-a'), uniqueKey('same-b')];
    await consul.put(`/v1/kv/${uniqueKey('before')}`, 'x');
    const reply = await txn([
      { Verb: 'set', Key: a, Value: b64('1') },
      { Verb: 'set', Key: b, Value: b64('2') },
    ]);
    const [first, second] = reply.json<TxnJson>().Results ?? [];
    expect(first?.KV.ModifyIndex).toBe(second?.KV.ModifyIndex);
    expect(first?.KV.Value).toBeNull(); // Value is null for verbs other than get / get-tree
  });

  it('txn.mdx › if any operation fails the transaction is rolled back: 409, Results null, Errors with OpIndex', async () => {
    const written = uniqueKey('rollback-written');
    const guarded = uniqueKey('rollback-guarded');
    await consul.put(`/v1/kv/${guarded}`, 'x');
    const reply = await txn([
      { Verb: 'set', Key: written, Value: b64('must not persist') },
      { Verb: 'cas', Key: guarded, Value: b64('y'), Index: 1 },
    ]);
    expect(reply.status).toBe(409);
    const body = reply.json<TxnJson>();
    expect(body.Results).toBeNull();
    expect(body.Errors).toEqual([{ OpIndex: 1, What: expect.any(String) }]);
    expect((await consul.call(`/v1/kv/${written}`)).status).toBe(404);
  });

  it('txn.mdx › Errors lists every failed operation, not only the first', async () => {
    const reply = await txn([
      { Verb: 'get', Key: uniqueKey('missing-1') },
      { Verb: 'set', Key: uniqueKey('fine'), Value: b64('x') },
      { Verb: 'check-index', Key: uniqueKey('missing-2'), Index: 3 },
    ]);
    expect(reply.status).toBe(409);
    expect(reply.json<TxnJson>().Errors?.map((e) => e.OpIndex)).toEqual([0, 2]);
  });

  it('txn.mdx › Values are base64 in requests and results; invalid base64 is a 400', async () => {
    const key = uniqueKey('base64');
    const bytes = Buffer.from([0, 1, 2, 250, 251]);
    await txn([{ Verb: 'set', Key: key, Value: bytes.toString('base64') }]);
    const raw = await fetch(`${consul.emulator.httpUrl}/v1/kv/${key}?raw`);
    expect(Buffer.from(await raw.arrayBuffer())).toEqual(bytes);
    expect((await txn([{ Verb: 'set', Key: key, Value: 'not base64!' }])).status).toBe(400);
  });

  it('txn.mdx › a read-only transaction is served like a read (X-Consul-KnownLeader) and writes nothing', async () => {
    const key = uniqueKey('read-only');
    await consul.put(`/v1/kv/${key}`, 'x');
    const before = await consul.call(`/v1/kv/${key}`);
    const reply = await txn([{ Verb: 'get', Key: key }]);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('x-consul-knownleader')).toBe('true');
    const after = await consul.call(`/v1/kv/${key}`);
    expect(after.index).toBe(before.index);
  });

  it('txn.mdx › Sample Payload › up to 128 operations; more is refused with 413', async () => {
    const key = uniqueKey('many');
    const op = { Verb: 'get-or-empty', Key: key };
    expect((await txn(Array.from({ length: 128 }, () => op))).status).toBe(200);
    expect((await txn(Array.from({ length: 129 }, () => op))).status).toBe(413);
  });

  it('txn.mdx › a body that is not a JSON array of operations is a 400; Node/Service/Check operations are not emulated', async () => {
    expect((await consul.put('/v1/txn', '{"KV":{}}')).status).toBe(400);
    expect((await consul.put('/v1/txn', '[{"KV":')).status).toBe(400);
    const node = await consul.put(
      '/v1/txn',
      JSON.stringify([{ Node: { Verb: 'get', Node: { Node: 'x' } } }]),
    );
    expect(node.status).toBe(400);
    expect(node.text).toContain('only KV operations');
  });

  it('txn.mdx › Flags round-trip as exact unsigned 64-bit integers', async () => {
    const key = uniqueKey('txn-flags');
    const reply = await consul.put(
      '/v1/txn',
      `[{"KV":{"Verb":"set","Key":"${key}","Value":"eA==","Flags":3304740253564472344}},{"KV":{"Verb":"get","Key":"${key}"}}]`,
    );
    expect(reply.status).toBe(200);
    expect(reply.text.match(/"Flags":3304740253564472344/g)).toHaveLength(2);
  });
});

describe('txn.mdx › Tables of Operations › KV Operations', () => {
  it('txn.mdx › set sets the key; cas with Index 0 creates only if absent, otherwise needs the ModifyIndex', async () => {
    const key = uniqueKey('verbs-cas');
    expect((await txn([{ Verb: 'cas', Key: key, Value: b64('1'), Index: 0 }])).status).toBe(200);
    expect((await txn([{ Verb: 'cas', Key: key, Value: b64('2'), Index: 0 }])).status).toBe(409);
    const current = (await consul.call(`/v1/kv/${key}`)).index;
    expect((await txn([{ Verb: 'cas', Key: key, Value: b64('3'), Index: current }])).status).toBe(200);
    expect((await txn([{ Verb: 'set', Key: key, Value: b64('4') }])).status).toBe(200);
  });

  it('txn.mdx › lock fails when another session holds the key; unlock needs the holding session', async () => {
    const key = uniqueKey('verbs-lock');
    const [a, b] = [await consul.session({}), await consul.session({})];
    expect((await txn([{ Verb: 'lock', Key: key, Session: a }])).status).toBe(200);
    expect((await txn([{ Verb: 'lock', Key: key, Session: b }])).status).toBe(409);
    expect((await txn([{ Verb: 'unlock', Key: key, Session: b }])).status).toBe(409);
    const unlocked = await txn([{ Verb: 'unlock', Key: key, Session: a }]);
    expect(unlocked.status).toBe(200);
    expect(unlocked.json<TxnJson>().Results?.[0]?.KV.Session).toBeUndefined();
    expect((await txn([{ Verb: 'lock', Key: key, Session: b }])).status).toBe(200);
  });

  it('txn.mdx › lock with an unknown session fails the transaction', async () => {
    const reply = await txn([
      { Verb: 'lock', Key: uniqueKey('bad-session'), Session: '0b2c3d4e-0000-4000-8000-00000000beef' },
    ]);
    expect(reply.status).toBe(409);
    expect(reply.json<TxnJson>().Errors?.[0]?.What).toContain('invalid session');
  });

  it('Sessions overview › lock-delay › a txn lock during the lock-delay fails the transaction', async () => {
    const key = uniqueKey('txn-lock-delay');
    const [holder, next] = [await consul.session({ LockDelay: '60s' }), await consul.session({})];
    await txn([{ Verb: 'lock', Key: key, Session: holder }]);
    await consul.put(`/v1/session/destroy/${holder}`);
    const reply = await txn([{ Verb: 'lock', Key: key, Session: next }]);
    expect(reply.status).toBe(409);
    expect(reply.json<TxnJson>().Errors?.[0]?.OpIndex).toBe(0);
  });

  it('txn.mdx › get fails for a missing key; get-or-empty answers an empty entry instead', async () => {
    const key = uniqueKey('verbs-get');
    expect((await txn([{ Verb: 'get', Key: key }])).status).toBe(409);
    const empty = await txn([{ Verb: 'get-or-empty', Key: key }]);
    expect(empty.status).toBe(200);
    expect(empty.json<TxnJson>().Results?.[0]?.KV).toMatchObject({ Key: key, Value: null, ModifyIndex: 0 });
  });

  it('txn.mdx › get-tree returns every key with the prefix, values included', async () => {
    const prefix = `${uniqueKey('verbs-tree')}/`;
    await txn([
      { Verb: 'set', Key: `${prefix}b`, Value: b64('B') },
      { Verb: 'set', Key: `${prefix}a`, Value: b64('A') },
    ]);
    const reply = await txn([{ Verb: 'get-tree', Key: prefix }]);
    const results = reply.json<TxnJson>().Results ?? [];
    expect(results.map((r) => [r.KV.Key, r.KV.Value])).toEqual([
      [`${prefix}a`, b64('A')],
      [`${prefix}b`, b64('B')],
    ]);
  });

  it('txn.mdx › check-index, check-session and check-not-exists guard the other operations', async () => {
    const key = uniqueKey('verbs-check');
    const session = await consul.session({});
    await txn([{ Verb: 'lock', Key: key, Session: session }]);
    const index = (await consul.call(`/v1/kv/${key}`)).index;
    const target = uniqueKey('verbs-check-target');
    const guarded = (checks: unknown[]) => txn([...checks, { Verb: 'set', Key: target, Value: b64('x') }]);
    expect((await guarded([{ Verb: 'check-index', Key: key, Index: index + 1 }])).status).toBe(409);
    expect((await guarded([{ Verb: 'check-session', Key: key, Session: '' }])).status).toBe(409);
    expect((await guarded([{ Verb: 'check-not-exists', Key: key }])).status).toBe(409);
    expect((await consul.call(`/v1/kv/${target}`)).status).toBe(404);
    const passed = await guarded([
      { Verb: 'check-index', Key: key, Index: index },
      { Verb: 'check-session', Key: key, Session: session },
      { Verb: 'check-not-exists', Key: uniqueKey('nothing-here') },
    ]);
    expect(passed.status).toBe(200);
    expect((await consul.call(`/v1/kv/${target}`)).status).toBe(200);
  });

  it('txn.mdx › delete, delete-tree and delete-cas remove keys and add no result entries', async () => {
    const prefix = `${uniqueKey('verbs-delete')}/`;
    await txn(
      ['a', 'b', 'c', 'd/e'].map((name) => ({ Verb: 'set', Key: `${prefix}${name}`, Value: b64(name) })),
    );
    const cIndex = (await consul.call(`/v1/kv/${prefix}c`)).index;
    expect((await txn([{ Verb: 'delete-cas', Key: `${prefix}c`, Index: cIndex + 1 }])).status).toBe(409);
    const reply = await txn([
      { Verb: 'delete', Key: `${prefix}a` },
      { Verb: 'delete-cas', Key: `${prefix}c`, Index: cIndex },
      { Verb: 'delete-tree', Key: `${prefix}d/` },
    ]);
    expect(reply.status).toBe(200);
    expect(reply.json<TxnJson>().Results).toEqual([]);
    const left = (await consul.call(`/v1/kv/${prefix}?keys`)).json<string[]>();
    expect(left).toEqual([`${prefix}b`]);
  });

  it('txn.mdx › an unknown verb or a missing Key fails the transaction', async () => {
    expect((await txn([{ Verb: 'upsert', Key: uniqueKey('verb') }])).status).toBe(409);
    expect((await txn([{ Verb: 'set', Value: b64('x') }])).status).toBe(409);
  });
});
