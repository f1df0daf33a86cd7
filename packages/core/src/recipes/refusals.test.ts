import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../errors.js';
import { everyHostRefused, refusedError } from './refusals.js';

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

function listening(): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

/** A loopback port that was just free (a server bound and closed it). */
async function refusedPort(): Promise<number> {
  const port = await listening();
  await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
  return port;
}

const host = (port: number) => ({ host: '127.0.0.1', port, ipv6: false });

describe('everyHostRefused', () => {
  it('resolves every refusal, in order, when no host listens', async () => {
    const ports = [await refusedPort(), await refusedPort()];
    const refusals = await everyHostRefused(ports.map(host), { signal: new AbortController().signal });
    expect(refusals?.map((r) => r.address)).toEqual(ports.map((p) => `127.0.0.1:${p}`));
    const error = refusedError('x', 'X', refusals!);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('Check that X is running');
    expect(error.cause).toBeInstanceOf(AggregateError);
  });

  it('resolves undefined as soon as one host accepts, or when aborted', async () => {
    const hosts = [host(await refusedPort()), host(await listening())];
    expect(await everyHostRefused(hosts, { signal: new AbortController().signal })).toBeUndefined();
    const stop = new AbortController();
    const pending = everyHostRefused([host(await refusedPort())], { signal: stop.signal, afterMs: 10_000 });
    stop.abort();
    expect(await pending).toBeUndefined();
  });
});
