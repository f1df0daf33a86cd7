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

/**
 * A section shared by up to `capacity` holders (1: a lock's), entered by holders of both sides:
 * counts the entries that found it full, and the most inside at once.
 */
export class CriticalSection {
  #inside = 0;
  /** How many entries found `capacity` others already inside. */
  overlaps = 0;
  /** The most holders inside at once. */
  most = 0;

  constructor(readonly capacity = 1) {}

  /** Enters, stays `holdMs`, leaves. */
  async visit(holdMs: number): Promise<void> {
    this.#inside++;
    this.most = Math.max(this.most, this.#inside);
    if (this.#inside > this.capacity) this.overlaps++;
    await delay(holdMs);
    this.#inside--;
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
