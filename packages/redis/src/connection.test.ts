/**
 * What a failed connect says: a refused login, a refused port and an unknown host each name
 * the client's own error (and keep it as `cause`) instead of ioredis's "Connection is closed.",
 * and a refused login fails at once rather than at `connectTimeoutMs`.
 */
import { BackendUnavailableError } from '@lockstep/core';
import { failedConnect, freePort, type ServerHandle } from '@lockstep/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import './index.js';
import { open } from './test-support/helpers.js';
import { useRedisCluster, useRedisServer } from './test-support/servers.js';

const PASSWORD = 'lockstep-test-secret';
/** Far longer than any of these failures may take: a failure near it means we waited. */
const CONNECT_TIMEOUT_MS = 10_000;
const FAIL_FAST_MS = 2_000;

/** Connects to `url`, expecting BackendUnavailableError well before the connect timeout. */
async function failureOf(url: string): Promise<BackendUnavailableError> {
  const { error, ms } = await failedConnect(url, { connectTimeoutMs: CONNECT_TIMEOUT_MS });
  expect(ms).toBeLessThan(FAIL_FAST_MS);
  expect(error).toBeInstanceOf(BackendUnavailableError);
  return error as BackendUnavailableError;
}

/**
 * Makes `servers` require {@link PASSWORD} for the enclosing block, through connections
 * opened before the change (they stay logged in), and takes the requirement off afterwards.
 */
function requirePassword(servers: () => readonly ServerHandle[]): void {
  let admins: Redis[] = [];
  beforeAll(async () => {
    admins = servers().map((server) => new Redis(server.url, { maxRetriesPerRequest: 1 }));
    await Promise.all(admins.map((admin) => admin.config('SET', 'requirepass', PASSWORD)));
  });
  afterAll(async () => {
    await Promise.all(admins.map((admin) => admin.config('SET', 'requirepass', '')));
    for (const admin of admins) admin.disconnect();
  });
}

/** `url` with `password` (and no user name) in it. */
function withPassword(url: string, password: string): string {
  return url.replace('://', `://:${encodeURIComponent(password)}@`);
}

describe('redis:// connect failures', () => {
  const redis = useRedisServer();
  requirePassword(() => [redis.handle]);

  it('a wrong password: an authentication failure naming WRONGPASS, at once', async () => {
    const error = await failureOf(withPassword(redis.handle.url, 'wrong'));
    expect(error.message).toMatch(/^redis: authentication failed at 127\.0\.0\.1:\d+ — WRONGPASS /);
    expect(error.message).toMatch(/password/i);
    expect((error.cause as Error).message).toMatch(/^WRONGPASS invalid username-password pair/);
  });

  it('no password for a server that requires one: says the URL gives none', async () => {
    const error = await failureOf(redis.handle.url);
    expect(error.message).toMatch(/^redis: authentication failed at 127\.0\.0\.1:\d+ — NOAUTH /);
    expect(error.message).toMatch(/requires a password and the URL gives none/);
    expect((error.cause as Error).message).toMatch(/^NOAUTH /);
  });

  it('the right password connects', async () => {
    const coord = await open(withPassword(redis.handle.url, PASSWORD));
    expect(await coord.lock('auth').tryAcquire()).not.toBeNull();
  });

  it('a refused port: names ECONNREFUSED and the address', async () => {
    const port = await freePort();
    const error = await failureOf(`redis://127.0.0.1:${port}`);
    expect(error.message).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(error.message).not.toMatch(/Connection is closed/);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('an unknown host: names the resolver error and the host', async () => {
    const error = await failureOf('redis://nohost.invalid:6379');
    expect(error.message).toMatch(/(ENOTFOUND|EAI_AGAIN) nohost\.invalid/);
    expect(error.message).not.toMatch(/Connection is closed/);
  });
});

/**
 * Redlock decides as soon as a quorum cannot connect, so the last instance's answer may not
 * have arrived yet: at least that many name `reason`, and every address is named.
 */
function expectInstanceFailures(error: Error, reason: RegExp, ports: readonly number[]): void {
  const named = error.message.match(new RegExp(reason.source, 'g')) ?? [];
  expect(named.length).toBeGreaterThanOrEqual(2);
  for (const port of ports) expect(error.message).toContain(`127.0.0.1:${port}: `);
}

describe('redlock:// connect failures', () => {
  const cluster = useRedisCluster(3);
  requirePassword(() => cluster.handle.nodes);
  const ports = () => cluster.handle.nodes.map((node) => node.port);

  it('a wrong password on every instance: an authentication failure naming WRONGPASS, at once', async () => {
    const error = await failureOf(withPassword(cluster.handle.url, 'wrong'));
    expect(error.message).toMatch(/^redlock: connected to 0 of 3 instances \(2 needed\) — /);
    expectInstanceFailures(error, /authentication failed: WRONGPASS /, ports());
    expect(error.message).toMatch(/password/i);
  });

  it('no password for instances that require one: says the URL gives none', async () => {
    const error = await failureOf(cluster.handle.url);
    expectInstanceFailures(error, /authentication failed: NOAUTH /, ports());
    expect(error.message).toMatch(/requires a password and the URL gives none/);
  });

  it('the right password connects', async () => {
    const coord = await open(withPassword(cluster.handle.url, PASSWORD));
    expect(await coord.lock('auth').tryAcquire()).not.toBeNull();
  });

  it('refused ports: each instance names ECONNREFUSED and its address', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const error = await failureOf(`redlock://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`);
    expectInstanceFailures(error, /: connect ECONNREFUSED 127\.0\.0\.1:\d+/, ports);
  });
});
