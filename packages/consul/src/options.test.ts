/** Unknown option names are typos until proven otherwise: rejected before any I/O. */
import { connect, InvalidArgumentError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { consulCoordinator } from './index.js';

describe('unknown consul options', () => {
  it('are rejected in connect() options and URL query parameters, naming the closest option', async () => {
    // Nothing listens on port 1: a connect attempt would end in BackendUnavailableError instead.
    await expect(connect('consul://127.0.0.1:1', { prefx: 'a' } as never)).rejects.toThrow(
      /did you mean "prefix"/,
    );
    await expect(connect('consul://127.0.0.1:1?lockDelay=100')).rejects.toThrow(/did you mean "lockDelayMs"/);
    // Consul's own query parameter name for the datacenter is an accepted alias.
    await expect(
      connect('consul://127.0.0.1:1?dc=dc1', { connectTimeoutMs: 200 }),
    ).rejects.not.toBeInstanceOf(InvalidArgumentError);
  });

  it('are rejected by consulCoordinator(options)', () => {
    expect(() => consulCoordinator({ url: 'http://127.0.0.1:1', prefx: 'a' } as never)).toThrow(
      /did you mean "prefix"/,
    );
    expect(() => consulCoordinator({ url: 'http://127.0.0.1:1', https: true } as never)).toThrow(
      InvalidArgumentError,
    );
  });
});
