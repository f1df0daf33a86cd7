/** Unknown option names are typos until proven otherwise: rejected before any I/O. */
import { connect, InvalidArgumentError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { zookeeperCoordinator } from './index.js';

describe('unknown zookeeper options', () => {
  it('are rejected in connect() options and URL query parameters, naming the closest option', async () => {
    // Nothing listens on port 1: a connect attempt would end in BackendUnavailableError instead.
    await expect(connect('zookeeper://127.0.0.1:1', { prefx: 'a' } as never)).rejects.toThrow(
      /did you mean "prefix"/,
    );
    await expect(connect('zookeeper://127.0.0.1:1?sessionTimeout=5000')).rejects.toThrow(
      /did you mean "sessionTimeoutMs"/,
    );
  });

  it('are rejected by zookeeperCoordinator(client, options)', () => {
    const factory = () => {
      throw new Error('no client may be created for a rejected option');
    };
    expect(() => zookeeperCoordinator(factory, { prefx: 'a' } as never)).toThrow(/did you mean "prefix"/);
    // The session timeout is your client's own setting.
    expect(() => zookeeperCoordinator(factory, { sessionTimeoutMs: 5000 } as never)).toThrow(
      InvalidArgumentError,
    );
  });
});
