/** failedConnect: resolves with how a connect failed; a connect that succeeds is a failed test. */
import { InvalidArgumentError } from '@lockstep/core';
import { describe, expect, it } from 'vitest';
import { failedConnect } from './connect-failure.js';

describe('failedConnect', () => {
  it('resolves with the rejection and how long it took', async () => {
    const { error, ms } = await failedConnect('nosuchscheme://host');
    expect(error).toBeInstanceOf(InvalidArgumentError); // no adapter has that scheme
    expect(ms).toBeGreaterThanOrEqual(0);
  });

  it('rejects when the connect succeeds (and closes what it opened)', async () => {
    await expect(failedConnect('memory://failed-connect')).rejects.toThrow(/expected connect.*to fail/);
  });
});
