import { randomBytes } from 'node:crypto';

// One call into the CSPRNG per 256 ids instead of one per id: acquire is a hot path.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = POOL_BYTES;

/** 128 random bits as 32 hex characters: owner ids that never collide in practice. */
export function randomOwnerId(): string {
  if (offset + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + 16);
  offset += 16;
  return id;
}

/** `ms` scaled by a random factor in [1 - spread, 1 + spread], so retries do not synchronise. */
export function jitter(ms: number, spread = 0.2): number {
  return ms * (1 - spread + Math.random() * 2 * spread);
}
