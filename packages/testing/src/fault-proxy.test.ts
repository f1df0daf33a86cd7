/**
 * faultProxy in front of a real redis-server: passes traffic, holds it (pause), resets it (cut),
 * heals, delays (latency), and cleans up.
 */
import { InvalidArgumentError } from '@lockstep/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, faultProxy } from './fault-proxy.js';
import { stopAllServers } from './registry.js';
import { startServerOrSkip } from './require.js';
import { RedisConnection, redisCommand, within } from './test-support/clients.js';
import type { ServerHandle } from './types.js';

let redis: ServerHandle | undefined;
let skipReason: string | undefined;
let proxy: FaultProxy;

beforeAll(async () => {
  const provided = await startServerOrSkip('redis', { sources: ['binary'] });
  redis = provided.handle;
  skipReason = provided.skipReason;
  if (redis) proxy = await faultProxy(redis.url);
});

afterAll(async () => {
  await stopAllServers();
});

async function roundTrip(connection: RedisConnection): Promise<number> {
  const started = performance.now();
  expect(await connection.send('PING')).toBe('+PONG');
  return performance.now() - started;
}

describe('faultProxy (through a real redis-server)', () => {
  it('passes traffic both ways, keeping the URL scheme', async ({ skip }) => {
    if (skipReason) skip(skipReason);
    expect(proxy.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(proxy.port).not.toBe(redis!.port);
    expect(await redisCommand(proxy.url, ['SET', 'through', 'proxy'])).toBe('+OK');
    expect(await redisCommand(redis!.url, ['EXISTS', 'through'])).toBe(':1');
    // A reply bigger than one TCP segment arrives whole.
    const big = 'x'.repeat(200_000);
    expect(await redisCommand(proxy.url, ['SET', 'big', big])).toBe('+OK');
    const connection = await RedisConnection.open(proxy.url);
    try {
      expect(await connection.send('STRLEN', 'big')).toBe(':200000');
    } finally {
      connection.close();
    }
  });

  it('pause() holds bytes on open and new connections; heal() delivers them in order', async ({ skip }) => {
    if (skipReason) skip(skipReason);
    const open = await RedisConnection.open(proxy.url);
    try {
      expect(await open.send('PING')).toBe('+PONG');
      proxy.pause();
      const held = [open.send('INCR', 'held'), open.send('INCR', 'held')];
      const late = await RedisConnection.open(proxy.url); // accepted, but silent
      const lateReply = late.send('PING');
      expect(await within(Promise.race([...held, lateReply]), 400)).toBe('timeout');
      // Nothing reached the server either: the counter is untouched.
      expect(await redisCommand(redis!.url, ['GET', 'held'])).toBe('$-1');
      proxy.heal();
      expect(await Promise.all(held)).toEqual([':1', ':2']);
      expect(await lateReply).toBe('+PONG');
      late.close();
    } finally {
      open.close();
    }
  });

  it('cut() resets every open connection and resets new ones until heal()', async ({ skip }) => {
    if (skipReason) skip(skipReason);
    const open = await RedisConnection.open(proxy.url);
    expect(await open.send('PING')).toBe('+PONG');
    expect(proxy.connections).toBeGreaterThanOrEqual(1);
    proxy.cut();
    expect(await open.closed).toMatchObject({ code: 'ECONNRESET' });
    expect(proxy.connections).toBe(0);

    const refused = new RedisConnection(proxy.host, proxy.port);
    refused.socket.on('connect', () => refused.send('PING'));
    const outcome = await within(refused.closed, 5_000);
    expect(outcome).not.toBe('timeout');
    // Either the reset arrives as an error, or the socket closes without a single reply byte.
    expect(outcome === undefined || (outcome as NodeJS.ErrnoException).code === 'ECONNRESET').toBe(true);

    proxy.heal();
    expect(await redisCommand(proxy.url, ['PING'])).toBe('+PONG');
  });

  it('latency(ms) delays each direction; latency(0) removes it', async ({ skip }) => {
    if (skipReason) skip(skipReason);
    const connection = await RedisConnection.open(proxy.url);
    try {
      await roundTrip(connection);
      proxy.latency(150);
      const slow = await roundTrip(connection);
      expect(slow).toBeGreaterThanOrEqual(295); // 150 ms each way
      proxy.latency(0);
      const fast = await roundTrip(connection);
      expect(fast).toBeLessThan(slow);
    } finally {
      connection.close();
    }
  });

  it('the server dying resets the client side; the proxy works again once it is back', async ({ skip }) => {
    if (skipReason) skip(skipReason);
    const connection = await RedisConnection.open(proxy.url);
    expect(await connection.send('PING')).toBe('+PONG');
    await redis!.kill();
    expect(await within(connection.closed, 5_000)).not.toBe('timeout');
    await redis!.restart();
    expect(await redisCommand(proxy.url, ['PING'])).toBe('+PONG');
  });

  it('refuses what it cannot proxy', async () => {
    await expect(faultProxy('etcd://127.0.0.1:1,127.0.0.1:2')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(faultProxy('mysql://127.0.0.1:3306')).rejects.toBeInstanceOf(InvalidArgumentError);
    const spare = await faultProxy('redis://127.0.0.1:1');
    expect(() => spare.latency(-1)).toThrow(InvalidArgumentError);
    await spare.close();
  });

  it('close() ends every connection and the listener', async ({ skip }) => {
    if (skipReason) skip(skipReason);
    const own = await faultProxy(redis!.url);
    const connection = await RedisConnection.open(own.url);
    expect(await connection.send('PING')).toBe('+PONG');
    await own.close();
    expect(await within(connection.closed, 5_000)).not.toBe('timeout');
    await expect(redisCommand(own.url, ['PING'])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await own.close(); // idempotent
  });
});
