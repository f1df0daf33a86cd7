/** URLs, options and unreachable agents. */
import { connect } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { consulCoordinator } from './index.js';
import { resolveOptions } from './options.js';
import { freshPrefix, open } from './test-support/helpers.js';
import { SERVER_LABEL, SKIP_REASON, useConsul } from './test-support/server.js';
import { agentUrl } from './url.js';

const consul = useConsul();

describe('consul:// URLs and options', () => {
  it('maps consul://host[:port] to the agent address (8500, or 8501 with https)', () => {
    expect(agentUrl(new URL('consul://10.0.0.1:8600'), false).href).toBe('http://10.0.0.1:8600/');
    expect(agentUrl(new URL('consul://consul.local'), false).href).toBe('http://consul.local:8500/');
    expect(agentUrl(new URL('consul://consul.local'), true).href).toBe('https://consul.local:8501/');
    expect(agentUrl(new URL('consul://[::1]:8500'), false).href).toBe('http://[::1]:8500/');
    for (const bad of ['consul://', 'consul://user:pw@h:1', 'consul://h:1/path']) {
      expect(() => agentUrl(new URL(bad), false), bad).toThrow(/url/);
    }
  });

  it('validates options before any I/O', () => {
    expect(
      resolveOptions({
        token: 1234 as unknown as string,
        dc: 'dc2',
        lockDelayMs: 250,
        sessionTtlMinMs: 1000,
      }),
    ).toMatchObject({
      token: '1234',
      datacenter: 'dc2',
      lockDelayMs: 250,
      sessionTtlMinMs: 1000,
    });
    for (const bad of [
      { lockDelayMs: -1 },
      { lockDelayMs: 60_001 },
      { sessionTtlMinMs: 0 },
      { sessionTtlMinMs: 1.5 },
      { requestTimeoutMs: 0 },
      { https: 'yes' },
      { token: 'a\nb' },
      { datacenter: 'dc/1' },
      { prefix: 5 },
    ]) {
      expect(() => resolveOptions(bad as never), JSON.stringify(bad)).toThrow();
    }
    expect(() => consulCoordinator({ url: 'consul://h:1' })).toThrow(/http/);
  });

  it('fails a dead address with BackendUnavailableError within connectTimeoutMs', async () => {
    const started = performance.now();
    await expect(connect('consul://127.0.0.1:1?connectTimeoutMs=1000')).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
    });
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('fails a silent address (accepts TCP, never answers) within connectTimeoutMs', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    try {
      const started = performance.now();
      await expect(connect(`consul://127.0.0.1:${port}`, { connectTimeoutMs: 500 })).rejects.toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
      });
      expect(performance.now() - started).toBeLessThan(1_500);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe.skipIf(SKIP_REASON !== undefined)(`connect() (${SERVER_LABEL})`, () => {
  it(`registers consul:// and takes options from the query string (${SERVER_LABEL})`, async () => {
    const coord = await open(`${consul().url}&prefix=${freshPrefix()}&lockDelayMs=0`);
    expect(coord.backend).toBe('consul');
    expect(coord.capabilities.counter).toEqual({ supported: true, bounds: true });
    expect(await coord.counter('x').increment()).toBe(1);
  });
});
