/** Unknown option names are typos until proven otherwise: rejected before any I/O. */
import { connect, InvalidArgumentError } from '@lockstep/core';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisCoordinator, redlockCoordinator } from './index.js';

// Nothing listens on port 1: a connect attempt would end in BackendUnavailableError instead.
const DEAD = '127.0.0.1:1';

describe('unknown redis options', () => {
  it('are rejected in connect() options and URL query parameters, naming the closest option', async () => {
    await expect(connect(`redis://${DEAD}`, { prefx: 'a' } as never)).rejects.toThrow(
      /did you mean "prefix"/,
    );
    await expect(connect(`redis://${DEAD}?connectTimeoutMS=100`)).rejects.toThrow(
      /did you mean "connectTimeoutMs"/,
    );
    await expect(connect(`redlock://${DEAD},${DEAD},${DEAD}?drift=0.1`)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('are rejected by the bring-your-own-client constructors', async () => {
    const client = new Redis({ lazyConnect: true });
    try {
      expect(() => redisCoordinator(client, { prefx: 'a' } as never)).toThrow(/did you mean "prefix"/);
      // driftFactor is a Redlock option, not one of a single instance's.
      expect(() => redisCoordinator(client, { driftFactor: 0.1 } as never)).toThrow(InvalidArgumentError);
      expect(() => redlockCoordinator([client], { handoffMs: 5 } as never)).toThrow(InvalidArgumentError);
    } finally {
      client.disconnect();
    }
  });
});
