import { describe, expect, it } from 'vitest';
import { checkPermits, type PermitHold } from './permits.js';

const hold = (
  client: string,
  requestedAt: number,
  acquiredAt: number,
  releasedAt: number,
  token?: bigint,
): PermitHold => ({
  client,
  requestedAt,
  acquiredAt,
  releasedAt,
  ...(token === undefined ? {} : { fencingToken: token }),
});

describe('checkPermits', () => {
  it('accepts up to K concurrent holders and reports one more', () => {
    const three = [hold('a', 0, 1, 10, 1n), hold('b', 0, 2, 10, 2n), hold('c', 0, 3, 10, 3n)];
    expect(checkPermits(three, 3)).toMatchObject({ ok: true, maxConcurrent: 3 });
    const result = checkPermits([...three, hold('d', 0, 4, 5, 4n)], 3);
    expect(result.ok).toBe(false);
    expect(result.maxConcurrent).toBe(4);
    expect(result.excess[0]!.hold.client).toBe('d');
  });

  it('accepts concurrent permits resolving out of token order, but not a duplicate or a certain inversion', () => {
    // b was granted first (token 1) but resolved after a (token 2): both were in flight together.
    expect(checkPermits([hold('a', 0, 2, 9, 2n), hold('b', 0, 3, 9, 1n)], 2).ok).toBe(true);
    expect(checkPermits([hold('a', 0, 2, 9, 2n), hold('b', 0, 3, 9, 2n)], 2).duplicateTokens).toHaveLength(1);
    // c was requested after a's grant had resolved, yet got a smaller token: a real inversion.
    const inverted = checkPermits([hold('a', 0, 2, 9, 5n), hold('c', 3, 4, 9, 4n)], 2);
    expect(inverted.tokenInversions).toHaveLength(1);
    expect(inverted.ok).toBe(false);
  });
});
