/**
 * What `connect('zookeeper://…')` says when it cannot connect, and how soon: refused everywhere
 * fails at once, naming each address and ECONNREFUSED (node-zookeeper-client would retry the
 * list until connectTimeoutMs and never say why); a server that might still answer is waited for.
 */
import { BackendUnavailableError, connect } from '@lockstep/core';
import { failedConnect, faultProxy, freePort } from '@lockstep/testing';
import { useServer } from '@lockstep/testing/vitest';
import { describe, expect, it, onTestFinished } from 'vitest';
import './index.js';

const zk = useServer('zookeeper');

/** Far longer than a refusal may take: failing near it would mean we waited for nothing. */
const CONNECT_TIMEOUT_MS = 10_000;
const FAIL_FAST_MS = 2_000;

async function failure(url: string, connectTimeoutMs = CONNECT_TIMEOUT_MS) {
  const { error, ms } = await failedConnect(url, { connectTimeoutMs });
  expect(error).toBeInstanceOf(BackendUnavailableError);
  return { error: error as BackendUnavailableError, ms };
}

describe('zookeeper connect failures', () => {
  it('a refused port fails at once, naming ECONNREFUSED and the address', async () => {
    const port = await freePort();
    const { error, ms } = await failure(`zookeeper://127.0.0.1:${port}`);
    expect(ms).toBeLessThan(FAIL_FAST_MS);
    expect(error.message).toMatch(/^zookeeper: cannot connect to /);
    expect(error.message).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('two refused hosts fail at once, naming both', async () => {
    const ports = [await freePort(), await freePort()];
    const { error, ms } = await failure(`zookeeper://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`);
    expect(ms).toBeLessThan(FAIL_FAST_MS);
    for (const port of ports) expect(error.message).toContain(`127.0.0.1:${port}: connect ECONNREFUSED`);
  });

  it('an unknown host fails at once, naming it', async () => {
    const { error, ms } = await failure('zookeeper://nohost.invalid:2181');
    expect(ms).toBeLessThan(FAIL_FAST_MS);
    expect(error.message).toContain('ENOTFOUND nohost.invalid');
  });

  it('waits out connectTimeoutMs while one host might still answer', async () => {
    const refused = await freePort();
    const proxy = await faultProxy(zk.url);
    onTestFinished(() => proxy.close());
    proxy.pause();
    const timeoutMs = 1_500;
    const { error, ms } = await failure(
      `zookeeper://127.0.0.1:${refused},127.0.0.1:${proxy.port}`,
      timeoutMs,
    );
    expect(ms).toBeGreaterThanOrEqual(timeoutMs - 100);
    expect(error.message).toContain(`connectTimeoutMs (${timeoutMs} ms)`);
  });

  it('connects when one host refuses and another answers', async () => {
    const refused = await freePort();
    const live = zk.url.replace(/^zookeeper:\/\//, '');
    const coord = await connect(`zookeeper://127.0.0.1:${refused},${live}`, {
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
    onTestFinished(() => coord.close());
    expect(await coord.lock('two-hosts').tryAcquire()).not.toBeNull();
  });
});
