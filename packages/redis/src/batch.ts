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
 *
 * Semaphore permits are entries of a sorted set, not keys of their own: they are renewed and
 * checked by their own scripts, batched the same way beside the locks'.
 * @module
 */
import type { Redis } from 'ioredis';
import { PERMITS_HELD, PERMITS_RENEW } from './queue-scripts.js';
import { EXTEND_MANY, type LuaScript } from './scripts.js';

/** Longest wait of a renewal for others to share its round trip. */
export const RENEWAL_WINDOW_MS = 20;
/** Keys per script or MGET: bounds how long one batch keeps the server from other clients. */
export const BATCH_KEYS = 1_000;

/**
 * A lock key and the owner id it must hold for the lock to be ours; or, with `windowMs`, a
 * semaphore's sorted set and the member that must be live in it (see `PERMITS_HELD`).
 */
export interface OwnedKey {
  readonly key: string;
  readonly owner: string;
  readonly windowMs?: number;
}

interface PendingRenewal {
  readonly key: string;
  /** The script's ARGV for this key. */
  readonly args: ReadonlyArray<string | number>;
  readonly resolve: (ours: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** The bulk operations on one connection. */
export class KeyBatch {
  readonly client: Redis;
  /** Renewals waiting for the window, per script (each takes one key and its ARGV per renewal). */
  #pending = new Map<LuaScript, PendingRenewal[]>();
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
    return this.#renew(EXTEND_MANY, key, [owner, ttlMs], ttlMs, urgent);
  }

  /** {@link KeyBatch.extend} for a semaphore permit: `owner`'s entry in the sorted set `key`. */
  extendPermit(
    key: string,
    owner: string,
    ttlMs: number,
    windowMs: number,
    urgent = false,
  ): Promise<boolean> {
    return this.#renew(PERMITS_RENEW, key, [owner, ttlMs, windowMs], ttlMs, urgent);
  }

  /** For each of `entries`, whether it is still ours ({@link BATCH_KEYS} keys per MGET or script). */
  async owned(entries: readonly OwnedKey[]): Promise<boolean[]> {
    const locks = entries.filter((e) => e.windowMs === undefined);
    const permits = entries.filter((e) => e.windowMs !== undefined);
    const [lockAnswers, permitAnswers] = await Promise.all([
      Promise.all(chunks(locks).map((chunk) => this.client.mget(chunk.map((e) => e.key)))),
      Promise.all(
        chunks(permits).map((chunk) =>
          PERMITS_HELD.run(
            this.client,
            chunk.map((e) => e.key),
            chunk.flatMap((e) => [e.owner, e.windowMs!]),
          ),
        ),
      ),
    ]);
    const answers = new Map<OwnedKey, boolean>();
    for (const [i, value] of lockAnswers.flat().entries()) answers.set(locks[i]!, value === locks[i]!.owner);
    for (const [i, held] of (permitAnswers as number[][]).flat().entries())
      answers.set(permits[i]!, Number(held) === 1);
    return entries.map((e) => answers.get(e)!);
  }

  #renew(
    script: LuaScript,
    key: string,
    args: ReadonlyArray<string | number>,
    ttlMs: number,
    urgent: boolean,
  ): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let pending = this.#pending.get(script);
      if (!pending) {
        pending = [];
        this.#pending.set(script, pending);
      }
      pending.push({ key, args, resolve, reject });
      const flushAt = performance.now() + (urgent ? 0 : Math.min(RENEWAL_WINDOW_MS, ttlMs / 30));
      if (flushAt >= this.#flushAt) return;
      clearTimeout(this.#timer);
      this.#flushAt = flushAt;
      this.#timer = setTimeout(() => this.#flush(), Math.max(0, flushAt - performance.now()));
      this.#timer.unref();
    });
  }

  #flush(): void {
    const batches = this.#pending;
    this.#pending = new Map();
    this.#timer = undefined;
    this.#flushAt = Number.POSITIVE_INFINITY;
    for (const [script, batch] of batches) {
      for (const chunk of chunks(batch)) {
        script
          .run(
            this.client,
            chunk.map((r) => r.key),
            chunk.flatMap((r) => r.args),
          )
          .then(
            (replies) => {
              for (const [i, renewal] of chunk.entries())
                renewal.resolve(Number((replies as number[])[i]) === 1);
            },
            (error: unknown) => {
              for (const renewal of chunk) renewal.reject(error);
            },
          );
      }
    }
  }
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += BATCH_KEYS) out.push(items.slice(at, at + BATCH_KEYS));
  return out;
}
