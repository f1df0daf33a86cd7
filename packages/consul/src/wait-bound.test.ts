/**
 * `waitMs` bounds the whole acquire, however slow the network: the attempts before the wait, the
 * blocking query and a retry in flight when the time is up all count against it.
 *
 * Here the first attempt alone takes three round trips (create the session, the refused
 * transaction, the read that finds the holder): 3.6 s at 600 ms each way.
 */
import { connect, LockTimeoutError } from '@lockstep/core';
import { faultProxy } from '@lockstep/testing';
import { describe, expect, it } from 'vitest';
import { freshPrefix, open, track } from './test-support/helpers.js';
import { SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';

const consul = useConsul();
const ONE_WAY_MS = 600;
const TTL_MS = 10_000;

describe.skipIf(SKIP_REASON !== undefined)(`consul:// waitMs under latency (${SERVER_LABEL})`, () => {
  it(`rejects acquire({ waitMs: 6000 }) within waitMs + 2.5 s at ${ONE_WAY_MS} ms one-way latency (${SERVER_LABEL})`, async () => {
    const prefix = freshPrefix();
    const holder = await open(consul().url, { prefix });
    const held = await holder.lock('slow', { ttlMs: TTL_MS }).acquire();
    const proxy = await faultProxy(consul().url);
    try {
      const waiter = track(await connect(proxy.url, { prefix }));
      proxy.latency(ONE_WAY_MS);
      const started = performance.now();
      const error = await waiter
        .lock('slow', { ttlMs: TTL_MS })
        .acquire({ waitMs: 6_000 })
        .catch((e) => e);
      const took = performance.now() - started;
      expect(error).toBeInstanceOf(LockTimeoutError);
      expect(took).toBeGreaterThanOrEqual(6_000 - 50);
      expect(took).toBeLessThan(6_000 + 2_500);
      expect(await held.isHeld()).toBe(true);
    } finally {
      await held.release();
      await proxy.close();
    }
  }, 60_000);
});
