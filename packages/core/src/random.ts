import { randomBytes } from 'node:crypto';

/** 128 random bits as 32 hex characters: owner ids that never collide in practice. */
export function randomOwnerId(): string {
  return randomBytes(16).toString('hex');
}

/** `ms` scaled by a random factor in [1 - spread, 1 + spread], so retries do not synchronise. */
export function jitter(ms: number, spread = 0.2): number {
  return ms * (1 - spread + Math.random() * 2 * spread);
}
