/** Unknown option names are typos until proven otherwise: rejected before any I/O. */
import { connect, InvalidArgumentError } from '@lockstep/core';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { etcdCoordinator } from './index.js';

describe('unknown etcd options', () => {
  it('are rejected in connect() options and URL query parameters, naming the closest option', async () => {
    // Nothing listens on port 1: a connect attempt would end in BackendUnavailableError instead.
    await expect(connect('etcd://127.0.0.1:1', { prefx: 'a' } as never)).rejects.toThrow(
      /did you mean "prefix"/,
    );
    await expect(connect('etcd://127.0.0.1:1?requestTimeout=100')).rejects.toThrow(
      /did you mean "requestTimeoutMs"/,
    );
  });

  it('are rejected by etcdCoordinator(client, options)', () => {
    const client = new Etcd3({ hosts: '127.0.0.1:1' });
    try {
      expect(() => etcdCoordinator(client, { prefx: 'a' } as never)).toThrow(/did you mean "prefix"/);
      // connectTimeoutMs belongs to connect(): your client is already built.
      expect(() => etcdCoordinator(client, { connectTimeoutMs: 5 } as never)).toThrow(InvalidArgumentError);
    } finally {
      client.close();
    }
  });
});
