/**
 * What `connect('etcd://…')` says when it cannot connect, and how soon: refused everywhere fails
 * at once, naming each address and ECONNREFUSED; anything that might still answer is waited for
 * up to connectTimeoutMs; etcd3's circuit breaker never stands in for the real cause.
 */
import { BackendUnavailableError, connect } from '@lockstep/core';
import { failedConnect, faultProxy, freePort } from '@lockstep/testing';
import { useServer } from '@lockstep/testing/vitest';
import { describe, expect, it, onTestFinished } from 'vitest';
import './index.js';

const etcd = useServer('etcd');

/** Far longer than a refusal may take: failing near it would mean we waited for nothing. */
const CONNECT_TIMEOUT_MS = 10_000;
const FAIL_FAST_MS = 2_000;

async function failure(url: string, connectTimeoutMs = CONNECT_TIMEOUT_MS) {
  const { error, ms } = await failedConnect(url, { connectTimeoutMs });
  expect(error).toBeInstanceOf(BackendUnavailableError);
  return { error: error as BackendUnavailableError, ms };
}

/** An address that accepts TCP connections and never answers. */
async function silentAddress(): Promise<string> {
  const proxy = await faultProxy(etcd.url);
  onTestFinished(() => proxy.close());
  proxy.pause();
  return `127.0.0.1:${proxy.port}`;
}

describe('etcd connect failures', () => {
  it('a refused port fails at once, naming ECONNREFUSED and the address', async () => {
    const port = await freePort();
    const { error, ms } = await failure(`etcd://127.0.0.1:${port}`);
    expect(ms).toBeLessThan(FAIL_FAST_MS);
    expect(error.message).toMatch(/^etcd: cannot connect to /);
    expect(error.message).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(error.message).not.toMatch(/circuit breaker/);
  });

  it('two refused hosts fail at once, naming both', async () => {
    const ports = [await freePort(), await freePort()];
    const { error, ms } = await failure(`etcd://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`);
    expect(ms).toBeLessThan(FAIL_FAST_MS);
    for (const port of ports) expect(error.message).toContain(`127.0.0.1:${port}: connect ECONNREFUSED`);
  });

  it('an unknown host fails at once, naming it', async () => {
    const { error, ms } = await failure('etcd://nohost.invalid:2379');
    expect(ms).toBeLessThan(FAIL_FAST_MS);
    expect(error.message).toContain('ENOTFOUND nohost.invalid');
  });

  it('waits out connectTimeoutMs while one host might still answer, and names the real cause', async () => {
    const refused = await freePort();
    const silent = await silentAddress();
    const timeoutMs = 1_500;
    const { error, ms } = await failure(`etcd://127.0.0.1:${refused},${silent}`, timeoutMs);
    expect(ms).toBeGreaterThanOrEqual(timeoutMs - 100);
    expect(error.message).toMatch(new RegExp(`within ${timeoutMs} ms — \\d+ [A-Z_]+: `));
    expect(error.message).not.toMatch(/circuit breaker/);
    expect(String((error.cause as Error).message)).not.toMatch(/circuit breaker/);
  });

  it('a request to members that all went away names their error, not the circuit breaker', async () => {
    const proxy = await faultProxy(etcd.url);
    onTestFinished(() => proxy.close());
    const coord = await connect(proxy.url, { requestTimeoutMs: 1_500 });
    onTestFinished(() => coord.close());
    proxy.cut();
    const error = await coord
      .counter('gone')
      .increment()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).not.toMatch(/circuit breaker/);
    expect(String(((error as Error).cause as Error).message)).not.toMatch(/circuit breaker/);
  });

  it('connects when one host refuses and another answers', async () => {
    const refused = await freePort();
    const live = etcd.url.replace(/^etcd:\/\//, '');
    const coord = await connect(`etcd://127.0.0.1:${refused},${live}`, {
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
    onTestFinished(() => coord.close());
    const held = await coord.lock('two-hosts').tryAcquire();
    expect(held).not.toBeNull();
  });
});
