/**
 * Interop on PostgreSQL (`interop.sql-advisory`, `interop.sql-advisory.shared`): `lock(name, { native: KEY })` takes the
 * plain advisory lock KEY — a bigint or a pair of int4 — so `SELECT pg_advisory_lock(KEY)` from
 * psql or any other client excludes lockstep and the other way round, both ways, while
 * lockstep's fencing tokens (from its sequence; the key is recorded beside the name) keep increasing.
 */

import { runInteropTest } from '@lockstep/conformance/vitest';
import { connect, InvalidArgumentError } from '@lockstep/core';
import { hash64 } from '@lockstep/core/driver';
import { useServer } from '@lockstep/testing/vitest';
import { describe, expect, it } from 'vitest';
import { advisoryKeyOf } from './index.js';
import { freshPrefix, open, rawClient } from './test-support.js';
import { POSTGRES_INTEROP } from './testing/index.js';

// The interop scenarios live in this package's testing tools (src/testing/interop.ts), so that
// `pnpm compare` reports the very same checks as interop.sql-advisory.

const server = useServer('postgres');

describe('interop.sql-advisory: plain SQL advisory locks and lockstep exclude (and share) each other', () => {
  for (const scenario of POSTGRES_INTEROP) {
    it(scenario.title, (context) =>
      runInteropTest(context, scenario, {
        name: 'postgres',
        source: server.handle.source,
        url: server.url,
        adapterModule: '@lockstep/postgres',
        connect: (override) => connect(override ?? server.url),
      }),
    );
  }

  it('a name whose hash equals a native key only contends with it; both are recorded beside the key', async () => {
    const prefix = freshPrefix();
    const coord = await open(server.url, { prefix });
    const other = await open(server.url, { prefix });
    const byName = await coord.lock('collides').acquire();
    // The same advisory key, reached another way: exactly what a hash collision would be.
    expect(advisoryKeyOf('collides', prefix)).toBe(hash64(prefix, 'collides'));
    const byKey = other.lock('elsewhere', { native: advisoryKeyOf('collides', prefix) });
    expect(await byKey.tryAcquire()).toBeNull();
    await byName.release();
    const keyHeld = await byKey.tryAcquire();
    expect(keyHeld?.fencingToken).toBeGreaterThan(byName.fencingToken);
    await keyHeld?.release();
    const nameAgain = await coord.lock('collides').acquire();
    expect(nameAgain.fencingToken).toBeGreaterThan(keyHeld!.fencingToken);
    await nameAgain.release();
    // The registry shows both users of the one advisory key.
    const raw = await rawClient(server.url);
    const key = hash64(prefix, 'collides').toString();
    const rows = await raw.query(
      'SELECT namespace, name FROM lockstep_locks WHERE advisory_key = $1 ORDER BY 1',
      [key],
    );
    expect(rows.rows).toEqual([
      { namespace: '', name: key },
      { namespace: prefix, name: 'collides' },
    ]);
  });

  it('rejects anything but a bigint or an int4 pair before any I/O', async () => {
    const coord = await open(server.url, { prefix: freshPrefix() });
    const bad: unknown[] = [
      '42',
      42,
      2n ** 63n,
      -(2n ** 63n) - 1n,
      [1],
      [1, 2, 3],
      [1.5, 2],
      [2 ** 31, 0],
      ['1', 2],
    ];
    for (const native of bad) {
      expect(() => coord.lock('bad', { native: native as never }), String(native)).toThrow(
        InvalidArgumentError,
      );
    }
    expect(() => coord.lock('ok', { native: 2n ** 63n - 1n })).not.toThrow();
    expect(() => coord.lock('ok', { native: [-(2 ** 31), 2 ** 31 - 1] })).not.toThrow();
  });
});
