/** Blocking queries, checked against features/blocking.mdx. */
import { describe, expect, it } from 'vitest';
import { parseBlockingParams } from './blocking.js';
import { settlesWithin, uniqueKey, useTestEmulator, withEmulator } from './test-support.js';

const consul = useTestEmulator();

describe('blocking.mdx', () => {
  it('blocking.mdx › without index (or index=0) a read answers at once, even with wait', async () => {
    const key = uniqueKey('no-block');
    await consul.put(`/v1/kv/${key}`, 'x');
    for (const query of ['?wait=10s', '?index=0&wait=10s']) {
      const started = performance.now();
      const reply = await consul.call(`/v1/kv/${key}${query}`);
      expect(reply.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(2_000);
    }
  });

  it('blocking.mdx › with index=X-Consul-Index the request hangs until the key changes, then answers the new index', async () => {
    const key = uniqueKey('wake');
    await consul.put(`/v1/kv/${key}`, 'v1');
    const first = await consul.call(`/v1/kv/${key}`);
    const pending = consul.call(`/v1/kv/${key}?index=${first.index}&wait=10s`);
    expect(await settlesWithin(pending, 300)).toBe(false);
    await consul.put(`/v1/kv/${key}`, 'v2');
    const changed = await pending;
    expect(changed.status).toBe(200);
    expect(changed.index).toBeGreaterThan(first.index);
    expect(Buffer.from(changed.json<Array<{ Value: string }>>()[0]?.Value ?? '', 'base64').toString()).toBe(
      'v2',
    );
  });

  it('blocking.mdx › writes to other keys do not end a single-key wait', async () => {
    const key = uniqueKey('unrelated');
    await consul.put(`/v1/kv/${key}`, 'v1');
    const first = await consul.call(`/v1/kv/${key}`);
    const pending = consul.call(`/v1/kv/${key}?index=${first.index}&wait=10s`);
    await consul.put(`/v1/kv/${uniqueKey('noise')}`, 'noise');
    expect(await settlesWithin(pending, 300)).toBe(false);
    await consul.put(`/v1/kv/${key}`, 'v2');
    expect((await pending).index).toBeGreaterThan(first.index);
  });

  it('blocking.mdx › with nothing changing it answers after wait (plus at most wait/16) with the same index', async () => {
    const key = uniqueKey('timeout');
    await consul.put(`/v1/kv/${key}`, 'x');
    const first = await consul.call(`/v1/kv/${key}`);
    const started = performance.now();
    const reply = await consul.call(`/v1/kv/${key}?index=${first.index}&wait=400ms`);
    const elapsed = performance.now() - started;
    expect(reply.status).toBe(200);
    expect(reply.index).toBe(first.index);
    expect(elapsed).toBeGreaterThanOrEqual(395);
    expect(elapsed).toBeLessThan(400 + 400 / 16 + 1_500);
  });

  it('blocking.mdx › a missing key answers 404 with X-Consul-Index after the wait, and 200 once created', async () => {
    const key = uniqueKey('missing');
    const first = await consul.call(`/v1/kv/${key}`);
    expect(first.status).toBe(404);
    const timedOut = await consul.call(`/v1/kv/${key}?index=${first.index}&wait=200ms`);
    expect(timedOut.status).toBe(404);
    expect(timedOut.index).toBeGreaterThanOrEqual(1);
    const pending = consul.call(`/v1/kv/${key}?index=${timedOut.index}&wait=10s`);
    await consul.put(`/v1/kv/${key}`, 'born');
    const created = await pending;
    expect(created.status).toBe(200);
    expect(created.index).toBeGreaterThan(timedOut.index);
  });

  it('kv.mdx › ModifyIndex › a blocking ?recurse wakes on a change to any key under the prefix', async () => {
    const prefix = `${uniqueKey('tree')}/`;
    await consul.put(`/v1/kv/${prefix}a`, '1');
    const first = await consul.call(`/v1/kv/${prefix}?recurse`);
    const pending = consul.call(`/v1/kv/${prefix}?recurse&index=${first.index}&wait=10s`);
    expect(await settlesWithin(pending, 200)).toBe(false);
    await consul.put(`/v1/kv/${prefix}b`, '2');
    const changed = await pending;
    expect(changed.json<unknown[]>()).toHaveLength(2);
    expect(changed.index).toBeGreaterThan(first.index);
  });

  it('blocking.mdx › deleting the newest key under a prefix does not move the prefix index backwards (tombstones)', async () => {
    const prefix = `${uniqueKey('tombstone')}/`;
    await consul.put(`/v1/kv/${prefix}old`, '1');
    await consul.put(`/v1/kv/${prefix}new`, '2');
    const before = await consul.call(`/v1/kv/${prefix}?recurse`);
    await consul.call(`/v1/kv/${prefix}new`, { method: 'DELETE' });
    const after = await consul.call(`/v1/kv/${prefix}?recurse`);
    expect(after.index).toBeGreaterThan(before.index);
  });

  it('blocking.mdx › Reset the index if it goes backwards › an index ahead of the server blocks for the whole wait and answers the lower current index', async () => {
    const key = uniqueKey('future');
    await consul.put(`/v1/kv/${key}`, 'x');
    const current = await consul.call(`/v1/kv/${key}`);
    const started = performance.now();
    const reply = await consul.call(`/v1/kv/${key}?index=${current.index + 1_000}&wait=300ms`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
    expect(reply.index).toBe(current.index); // lower than asked: the client must reset to 0
  });

  it('blocking.mdx › Sanity check index is greater than zero › X-Consul-Index is at least 1 even on an empty server', async () => {
    await withEmulator({}, async (fresh) => {
      const reply = await fresh.call('/v1/kv/anything');
      expect(reply.status).toBe(404);
      expect(reply.index).toBe(1);
      const sessions = await fresh.call('/v1/session/list');
      expect(sessions.index).toBe(1);
    });
  });

  it('blocking.mdx › wait › an unparsable wait or index is refused with 400', async () => {
    const key = uniqueKey('bad-wait');
    expect((await consul.call(`/v1/kv/${key}?index=1&wait=soon`)).status).toBe(400);
    expect((await consul.call(`/v1/kv/${key}?index=-1`)).status).toBe(400);
  });

  it('blocking.mdx › wait › defaults to 5 minutes and is limited to 10 minutes; "10s" and "5m" forms are accepted', () => {
    const params = (query: string) => parseBlockingParams(new URLSearchParams(query));
    expect(params('index=5')).toEqual({ minIndex: 5, waitMs: 300_000 });
    expect(params('index=5&wait=10s').waitMs).toBe(10_000);
    expect(params('index=5&wait=5m').waitMs).toBe(300_000);
    expect(params('index=5&wait=1h').waitMs).toBe(600_000);
  });

  it('emulator lifecycle › close() ends blocked queries at once, including ones whose client already left', async () => {
    await withEmulator({}, async (local) => {
      const key = uniqueKey('close');
      await local.put(`/v1/kv/${key}`, 'x');
      const { index } = await local.call(`/v1/kv/${key}`);
      const url = `${local.emulator.httpUrl}/v1/kv/${key}?index=${index}&wait=10m`;
      const aborter = new AbortController();
      const abandoned = fetch(url, { signal: aborter.signal }).catch((error: Error) => error.name);
      const blocked = fetch(url).then(
        (response) => response.status,
        () => 'connection closed',
      );
      expect(await settlesWithin(Promise.race([abandoned, blocked]), 100)).toBe(false);
      aborter.abort();
      expect(await abandoned).toBe('AbortError');
      const started = performance.now();
      await local.close();
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(await settlesWithin(blocked, 2_000)).toBe(true);
    });
  });
});
