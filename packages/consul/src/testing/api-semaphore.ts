/**
 * The other side of `interop.consul-lock.semaphore`: the algorithm of hashicorp/consul
 * `api/semaphore.go`, as `consul lock -n LIMIT <prefix> <command>` runs it, written out in
 * TypeScript over plain HTTP (no Go toolchain or Consul binary can be installed here). Its steps,
 * in the Go client's order:
 *
 * - Acquire(): create a session (TTL, Behavior delete, renewed every TTL/2); acquire the contender
 *   `<prefix>/<session>` with the semaphore flag; then loop: list the prefix (blocking on the last
 *   index after the first pass); `.lock` with other flags is a conflict; a stored Limit other than
 *   ours is a conflict; drop holders whose session holds no key under the prefix; all slots taken →
 *   block on the listing's index; else CAS `.lock` with us added to Holders, and start over when
 *   the CAS loses.
 * - a monitor lists the prefix consistently and reports the slot lost once our session is no longer
 *   among the live holders;
 * - Release(): CAS `.lock` without us (re-read on a lost CAS), delete our contender, destroy the
 *   session.
 *
 * It takes whatever slot is free: api/semaphore.go clients do not queue, unlike lockstep's. A
 * stand-in for the Go client, exercised against the emulator: results are labelled so.
 * @module
 */
import { SEMAPHORE_FLAG_VALUE } from './api-lock.js';

/** One KV entry of a prefix listing, with exact 64-bit flags and indexes. */
export interface ListedPair {
  readonly Key: string;
  readonly Session?: string;
  readonly Flags: bigint;
  readonly ModifyIndex: bigint;
  readonly Value: string | null;
}

/** What api/semaphore.go keeps in `<prefix>/.lock`. */
interface StoredLock {
  Limit: number;
  Holders: Record<string, boolean>;
}

/** Options mirroring api.SemaphoreOptions (the wait time shortened for tests where noted). */
export interface ApiSemaphoreOptions {
  readonly httpUrl: string;
  /** The prefix given to `consul lock -n`. */
  readonly prefix: string;
  readonly limit: number;
  readonly sessionTtl: string;
  /** The contender's value (api.SemaphoreOptions.Value). */
  readonly value?: string;
  /** api.DefaultSemaphoreWaitTime is 15 s. */
  readonly waitTime?: string;
}

/** A prefix listing (`?recurse`) and its X-Consul-Index. */
async function listPrefix(
  httpUrl: string,
  prefix: string,
  query: string,
  signal?: AbortSignal,
): Promise<{ pairs: ListedPair[]; index: bigint }> {
  const res = await fetch(`${httpUrl}/v1/kv/${prefix}?recurse${query}`, { signal });
  const index = BigInt(res.headers.get('X-Consul-Index') ?? '0');
  if (res.status === 404) {
    await res.arrayBuffer();
    return { pairs: [], index };
  }
  if (res.status !== 200) throw new Error(`failed to read prefix: HTTP ${res.status} ${await res.text()}`);
  // Flags and indexes are 64-bit: read them as strings before JSON turns them into doubles.
  const text = (await res.text()).replace(/"(Flags|ModifyIndex|CreateIndex|LockIndex)":(\d+)/g, '"$1":"$2"');
  const raw = JSON.parse(text) as Array<Record<string, string | null>>;
  return {
    pairs: raw.map((pair) => ({
      Key: pair.Key!,
      Session: pair.Session ?? undefined,
      Flags: BigInt(pair.Flags!),
      ModifyIndex: BigInt(pair.ModifyIndex!),
      Value: pair.Value ? Buffer.from(pair.Value, 'base64').toString('utf8') : null,
    })),
    index,
  };
}

/** One `consul lock -n` run's semaphore (api.Semaphore). */
export class ApiSemaphore {
  readonly prefix: string;
  readonly lockKey: string;
  #session = '';
  #renew: NodeJS.Timeout | undefined;
  #monitor = new AbortController();
  /** Aborted when the slot is lost, like the channel Acquire() returns being closed. */
  lost = new AbortController();

  constructor(readonly options: ApiSemaphoreOptions) {
    this.prefix = options.prefix.replace(/^\/+/, '').replace(/\/+$/, '');
    this.lockKey = `${this.prefix}/.lock`;
  }

  /** The session holding our contender (empty before Acquire). */
  get session(): string {
    return this.#session;
  }

  /** Acquire(stopCh): resolves once we hold a slot; rejects on a flag or Limit conflict. */
  async acquire(stop?: AbortSignal): Promise<void> {
    const { httpUrl, limit } = this.options;
    const created = await fetch(`${httpUrl}/v1/session/create`, {
      method: 'PUT',
      body: JSON.stringify({
        Name: 'Consul API Semaphore',
        TTL: this.options.sessionTtl,
        Behavior: 'delete',
      }),
    });
    this.#session = ((await created.json()) as { ID: string }).ID;
    const ttlMs = Number.parseFloat(this.options.sessionTtl) * 1000;
    this.#renew = setInterval(() => {
      void fetch(`${httpUrl}/v1/session/renew/${this.#session}`, { method: 'PUT' }).catch(() => {});
    }, ttlMs / 2);
    try {
      const made = await fetch(
        `${httpUrl}/v1/kv/${this.prefix}/${this.#session}?acquire=${this.#session}&flags=${SEMAPHORE_FLAG_VALUE}`,
        { method: 'PUT', body: this.options.value ?? '' },
      );
      if ((await made.json()) !== true) throw new Error('failed to make contender entry');
      const wait = this.options.waitTime ?? '15s';
      let waitIndex = 0n;
      for (;;) {
        stop?.throwIfAborted();
        const query = waitIndex > 0n ? `&index=${waitIndex}&wait=${wait}` : '';
        const { pairs, index } = await listPrefix(httpUrl, this.prefix, query, stop);
        const lockPair = pairs.find((pair) => pair.Key === this.lockKey);
        if (lockPair && lockPair.Flags !== SEMAPHORE_FLAG_VALUE) {
          throw new Error('Existing key does not match semaphore use');
        }
        const lock = this.#decode(lockPair);
        if (lock.Limit !== limit) {
          throw new Error(`semaphore limit conflict (lock: ${lock.Limit}, local: ${limit})`);
        }
        pruneDeadHolders(lock, pairs);
        if (Object.keys(lock.Holders).length >= lock.Limit) {
          waitIndex = index;
          continue;
        }
        lock.Holders[this.#session] = true;
        if (await this.#cas(lock, lockPair?.ModifyIndex ?? 0n)) break;
        waitIndex = 0n;
      }
    } catch (error) {
      await this.#dropSession();
      throw error;
    }
    void this.#monitorSlot();
  }

  /** Release(): leaves Holders by CAS, deletes the contender, destroys the session. */
  async release(): Promise<void> {
    const { httpUrl } = this.options;
    this.#monitor.abort();
    for (;;) {
      const { pairs } = await listPrefix(httpUrl, this.lockKey, '');
      const lockPair = pairs.find((pair) => pair.Key === this.lockKey);
      const lock = this.#decode(lockPair);
      if (!lock.Holders[this.#session]) break;
      delete lock.Holders[this.#session];
      if (await this.#cas(lock, lockPair?.ModifyIndex ?? 0n)) break;
    }
    await fetch(`${httpUrl}/v1/kv/${this.prefix}/${this.#session}`, { method: 'DELETE' }).then((r) =>
      r.arrayBuffer(),
    );
    await this.#dropSession();
  }

  #decode(pair: ListedPair | undefined): StoredLock {
    if (!pair?.Value) return { Limit: this.options.limit, Holders: {} };
    const parsed = JSON.parse(pair.Value) as Partial<StoredLock>;
    return { Limit: parsed.Limit ?? 0, Holders: { ...(parsed.Holders ?? {}) } };
  }

  async #cas(lock: StoredLock, modifyIndex: bigint): Promise<boolean> {
    const res = await fetch(
      `${this.options.httpUrl}/v1/kv/${this.lockKey}?cas=${modifyIndex}&flags=${SEMAPHORE_FLAG_VALUE}`,
      { method: 'PUT', body: JSON.stringify(lock) },
    );
    return (await res.json()) === true;
  }

  async #dropSession(): Promise<void> {
    clearInterval(this.#renew);
    if (this.#session) {
      await fetch(`${this.options.httpUrl}/v1/session/destroy/${this.#session}`, { method: 'PUT' })
        .then((r) => r.arrayBuffer())
        .catch(() => {});
    }
  }

  async #monitorSlot(): Promise<void> {
    let index = 0n;
    try {
      for (;;) {
        const query = index > 0n ? `&consistent&index=${index}&wait=15s` : '&consistent';
        const { pairs, index: next } = await listPrefix(
          this.options.httpUrl,
          this.prefix,
          query,
          this.#monitor.signal,
        );
        const lock = this.#decode(pairs.find((pair) => pair.Key === this.lockKey));
        pruneDeadHolders(lock, pairs);
        if (!lock.Holders[this.#session]) break;
        index = next;
      }
      this.lost.abort();
    } catch {
      // Stopped by release(), or the agent failed (api/semaphore.go closes the channel then too).
      if (!this.#monitor.signal.aborted) this.lost.abort();
    }
  }
}

/** Drops every holder whose session holds no key under the prefix. */
function pruneDeadHolders(lock: StoredLock, pairs: readonly ListedPair[]): void {
  const alive = new Set(pairs.flatMap((pair) => (pair.Session ? [pair.Session] : [])));
  for (const holder of Object.keys(lock.Holders)) {
    if (!alive.has(holder)) delete lock.Holders[holder];
  }
}
