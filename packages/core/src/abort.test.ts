import { describe, expect, it } from 'vitest';
import { linkSignals } from './abort.js';

describe('linkSignals', () => {
  it('aborts with the reason of the first source that aborts', () => {
    const a = new AbortController();
    const b = new AbortController();
    const { signal } = linkSignals([a.signal, b.signal]);
    b.abort('b went first');
    a.abort('a');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('b went first');
  });

  it('starts aborted when a source already is', () => {
    const a = new AbortController();
    a.abort('early');
    expect(linkSignals([a.signal]).signal.reason).toBe('early');
  });

  it('detaches from long-lived sources on dispose, so nothing accumulates on them', () => {
    const closing = new AbortController();
    const { signal, dispose } = linkSignals([closing.signal]);
    dispose();
    closing.abort('late');
    expect(signal.aborted).toBe(false);
  });
});
