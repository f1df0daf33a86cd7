import { describe, expect, it } from 'vitest';
import { LossFlag, type LossNotice } from './loss.js';

describe('LossFlag', () => {
  it('tells each listener once, with the first reason, and later ones never', () => {
    const flag = new LossFlag();
    const heard: unknown[] = [];
    flag.addEventListener('abort', () => heard.push(['a', flag.reason]));
    flag.addEventListener('abort', () => heard.push(['b', flag.reason]));
    expect(flag.aborted).toBe(false);
    flag.abort('first');
    flag.abort('second');
    expect(flag.aborted).toBe(true);
    expect(flag.reason).toBe('first');
    expect(heard).toEqual([
      ['a', 'first'],
      ['b', 'first'],
    ]);
    flag.addEventListener('abort', () => heard.push('late'));
    expect(heard).toHaveLength(2);
  });

  it('does not call a removed listener', () => {
    const flag = new LossFlag();
    let calls = 0;
    const listener = () => calls++;
    flag.addEventListener('abort', listener);
    flag.removeEventListener('abort', listener);
    flag.abort(new Error('gone'));
    expect(calls).toBe(0);
  });

  it('an AbortSignal is a LossNotice too', () => {
    const controller = new AbortController();
    const notice: LossNotice = controller.signal;
    controller.abort('why');
    expect(notice.aborted).toBe(true);
    expect(notice.reason).toBe('why');
  });
});
