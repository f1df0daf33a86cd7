/**
 * Small pieces the interop scenarios share.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits `ms` (only where a peer offers no event to wait for, e.g. "still blocked after a while"). */
export const delay = (ms: number): Promise<void> => sleep(ms).then(() => {});

/** A name no other run uses. */
export const uniqueSuffix = (): string => randomBytes(4).toString('hex');

/** Counts entries into a critical section shared by lockstep and a peer; overlaps must stay 0. */
export class CriticalSection {
  private inside = 0;
  /** How many entries found someone else already inside. */
  overlaps = 0;

  /** Enters, stays `holdMs`, leaves. */
  async visit(holdMs: number): Promise<void> {
    this.inside++;
    if (this.inside > 1) this.overlaps++;
    await delay(holdMs);
    this.inside--;
  }
}

/** Fails unless every token is larger than the one before. */
export function strictlyIncreasing(tokens: readonly bigint[]): boolean {
  for (let i = 1; i < tokens.length; i++) if (!(tokens[i]! > tokens[i - 1]!)) return false;
  return true;
}

/** Rejects when `promise` takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every 10 ms until it holds; fails after `ms`. */
export async function eventually(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await delay(10);
  }
}
