/**
 * Renewals and ownership checks of many held locks on one connection, in bulk.
 *
 * Redis leases are per lock, so every held lock must be renewed once per period. Sent one by
 * one, 10,000 locks with a 2 s TTL cost 15,000 scripts and as many replies a second. Here a
 * renewal waits a short window — a thirtieth of its TTL, at most {@link RENEWAL_WINDOW_MS} —
 * for the others due around the same time, and they go out together: one script per
 * {@link BATCH_KEYS} keys, all written at once, so one round trip per window however many
 * locks. Renewals answered together are due together next time, so they stay in one batch.
 *
 * The delay costs nothing in safety: core counts a renewed lease from the instant it *asked*,
 * before the window, and the server from the instant the script ran, later.
 * @module
 */
import type { Redis } from 'ioredis';
import { EXTEND_MANY } from './scripts.js';

/** Longest wait of a renewal for others to share its round trip. */
export const RENEWAL_WINDOW_MS = 20;
/** Keys per script or MGET: bounds how long one batch keeps the server from other clients. */
export const BATCH_KEYS = 1_000;

/** A lock key and the owner id it must hold for the lock to be ours. */
export interface OwnedKey {
  readonly key: string;
  readonly owner: string;
}

interface PendingRenewal extends OwnedKey {
  readonly ttlMs: number;
  readonly resolve: (ours: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** The bulk operations on one connection. */
export class KeyBatch {
  readonly client: Redis;
  #pending: PendingRenewal[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushAt = Number.POSITIVE_INFINITY;

  constructor(client: Redis) {
    this.client = client;
  }

  /**
   * Compare-then-PEXPIRE, batched: true while the key holds `owner`; rejects when unreachable.
   * `urgent` (an explicit `extend()` someone waits on) goes out now, with whatever is pending.
   */
  extend(key: string, owner: string, ttlMs: number, urgent = false): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ key, owner, ttlMs, resolve, reject });
      const flushAt = performance.now() + (urgent ? 0 : Math.min(RENEWAL_WINDOW_MS, ttlMs / 30));
      if (flushAt >= this.#flushAt) return;
      clearTimeout(this.#timer);
      this.#flushAt = flushAt;
      this.#timer = setTimeout(() => this.#flush(), Math.max(0, flushAt - performance.now()));
      this.#timer.unref();
    });
  }

  /** For each of `entries`, whether its key holds its owner id (MGET, {@link BATCH_KEYS} keys at a time). */
  async owned(entries: readonly OwnedKey[]): Promise<boolean[]> {
    const replies = await Promise.all(
      chunks(entries).map((chunk) => this.client.mget(chunk.map((e) => e.key))),
    );
    return replies.flat().map((value, i) => value === entries[i]!.owner);
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#timer = undefined;
    this.#flushAt = Number.POSITIVE_INFINITY;
    for (const chunk of chunks(batch)) {
      const args = chunk.flatMap((r) => [r.owner, r.ttlMs]);
      EXTEND_MANY.run(
        this.client,
        chunk.map((r) => r.key),
        args,
      ).then(
        (replies) => {
          for (const [i, renewal] of chunk.entries()) renewal.resolve(Number((replies as number[])[i]) === 1);
        },
        (error: unknown) => {
          for (const renewal of chunk) renewal.reject(error);
        },
      );
    }
  }
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += BATCH_KEYS) out.push(items.slice(at, at + BATCH_KEYS));
  return out;
}
