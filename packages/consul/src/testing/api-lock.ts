/**
 * The other side of `interop.consul-lock`: the algorithm of hashicorp/consul `api/lock.go`, as
 * `consul lock <prefix> <command>` runs it, written out in TypeScript over plain HTTP because
 * neither Go nor a Consul binary can be installed here. It follows the Go code's steps and
 * constants (read from the upstream source, not copied):
 *
 * - the key is `path.Join(prefix, ".lock")`, carrying flags `LockFlagValue`;
 * - Lock(): create a session (TTL, renewed at TTL/2), then loop: blocking GET of the key; a key
 *   with other flags is a conflict; held by another session → block on its index; else
 *   `PUT ?acquire=<session>&flags=<LockFlagValue>`; refused while free (lock-delay) → sleep the
 *   retry time and start over;
 * - a monitor (consistent blocking GET) closes the "lost" channel when the key is gone or held by
 *   another session;
 * - Unlock(): `PUT ?release=<session>&flags=<LockFlagValue>`; `consul lock` then calls Destroy(),
 *   which deletes the key with `?cas=<ModifyIndex>` if nobody holds it.
 *
 * It is a stand-in for the Go client, exercised against the emulator: results are labelled so.
 */

/** api.LockFlagValue: the flags of a key `consul lock` holds. */
export const LOCK_FLAG_VALUE = 0x2ddccbc058a50c18n;
/** api.SemaphoreFlagValue: the flags of a `consul lock -n N` semaphore key. */
export const SEMAPHORE_FLAG_VALUE = 0xe0f69a2baa414de0n;

/** A KV entry as api/lock.go reads it. */
export interface Pair {
  Key: string;
  Session?: string;
  Flags: bigint;
  ModifyIndex: bigint;
}

/** One KV entry (exact 64-bit flags and indexes) and the X-Consul-Index of the answer. */
export async function getPair(
  httpUrl: string,
  key: string,
  query: string,
  signal?: AbortSignal,
): Promise<{ pair: Pair | undefined; index: bigint }> {
  const res = await fetch(`${httpUrl}/v1/kv/${key}${query}`, { signal });
  const index = BigInt(res.headers.get('X-Consul-Index') ?? '0');
  if (res.status === 404) {
    await res.arrayBuffer();
    return { pair: undefined, index };
  }
  if (res.status !== 200) throw new Error(`failed to read lock: HTTP ${res.status} ${await res.text()}`);
  const text = (await res.text()).replace(/"(Flags|ModifyIndex|CreateIndex|LockIndex)":(\d+)/g, '"$1":"$2"');
  const raw = (JSON.parse(text) as Array<Record<string, string>>)[0]!;
  return {
    pair: {
      Key: raw.Key!,
      Session: raw.Session,
      Flags: BigInt(raw.Flags!),
      ModifyIndex: BigInt(raw.ModifyIndex!),
    },
    index,
  };
}

/** Options mirroring api.LockOptions (times shortened for tests where noted). */
export interface ApiLockOptions {
  readonly httpUrl: string;
  /** The prefix given to `consul lock`. */
  readonly prefix: string;
  readonly sessionTtl: string;
  /** api.DefaultLockRetryTime is 5 s; tests pass less. */
  readonly retryMs?: number;
  /** api.DefaultLockWaitTime is 15 s. */
  readonly waitTime?: string;
  /**
   * The session's lock-delay. api/lock.go's own sessions leave Consul's default (15 s); a caller can
   * pass its own session (LockOptions.Session) with another one — tests use that to stay short.
   */
  readonly lockDelay?: string;
}

/** One `consul lock` run's lock (api.Lock). */
export class ApiLock {
  readonly key: string;
  #session = '';
  #renew: NodeJS.Timeout | undefined;
  #monitor = new AbortController();
  /** Closed (aborted) when the lock is lost, like the channel Lock() returns. */
  lost = new AbortController();

  constructor(readonly options: ApiLockOptions) {
    this.key = `${options.prefix.replace(/^\/+/, '').replace(/\/+$/, '')}/.lock`;
  }

  /** Lock(stopCh): resolves when held; rejects with "Existing key does not match lock use" on conflict. */
  async lock(stop?: AbortSignal): Promise<void> {
    const { httpUrl } = this.options;
    const created = await fetch(`${httpUrl}/v1/session/create`, {
      method: 'PUT',
      body: JSON.stringify({
        Name: 'Consul API Lock',
        TTL: this.options.sessionTtl,
        LockDelay: this.options.lockDelay,
      }),
    });
    this.#session = ((await created.json()) as { ID: string }).ID;
    const ttlMs = Number.parseFloat(this.options.sessionTtl) * 1000;
    this.#renew = setInterval(() => {
      void fetch(`${httpUrl}/v1/session/renew/${this.#session}`, { method: 'PUT' }).catch(() => {});
    }, ttlMs / 2);
    let waitIndex = 0n;
    const wait = this.options.waitTime ?? '15s';
    for (;;) {
      stop?.throwIfAborted();
      const query = waitIndex > 0n ? `?index=${waitIndex}&wait=${wait}` : '';
      const { pair, index } = await getPair(httpUrl, this.key, query, stop);
      if (pair && pair.Flags !== LOCK_FLAG_VALUE) {
        await this.#dropSession();
        throw new Error('Existing key does not match lock use');
      }
      if (pair && pair.Session === this.#session) break;
      if (pair?.Session) {
        waitIndex = index;
        continue;
      }
      const acquired = await fetch(
        `${httpUrl}/v1/kv/${this.key}?acquire=${this.#session}&flags=${LOCK_FLAG_VALUE}`,
        { method: 'PUT', body: '' },
      );
      if ((await acquired.json()) === true) break;
      // Determine why: held → long poll; free → a lock-delay is running, sleep the retry time.
      const again = await getPair(httpUrl, this.key, '', stop);
      if (again.pair?.Session) {
        waitIndex = again.index;
        continue;
      }
      waitIndex = 0n;
      await new Promise((resolve) => setTimeout(resolve, this.options.retryMs ?? 5_000));
    }
    void this.#monitorLock();
  }

  /** Unlock(), then Destroy() as `consul lock` does on exit. */
  async unlock(): Promise<void> {
    const { httpUrl } = this.options;
    this.#monitor.abort();
    await fetch(`${httpUrl}/v1/kv/${this.key}?release=${this.#session}&flags=${LOCK_FLAG_VALUE}`, {
      method: 'PUT',
      body: '',
    });
    await this.#dropSession();
    const { pair } = await getPair(httpUrl, this.key, '');
    if (pair && pair.Flags === LOCK_FLAG_VALUE && !pair.Session) {
      await fetch(`${httpUrl}/v1/kv/${this.key}?cas=${pair.ModifyIndex}`, { method: 'DELETE' });
    }
  }

  async #dropSession(): Promise<void> {
    clearInterval(this.#renew);
    if (this.#session) {
      await fetch(`${this.options.httpUrl}/v1/session/destroy/${this.#session}`, { method: 'PUT' }).catch(
        () => {},
      );
    }
  }

  async #monitorLock(): Promise<void> {
    let index = 0n;
    try {
      for (;;) {
        const query = index > 0n ? `?consistent&index=${index}&wait=15s` : '?consistent';
        const { pair, index: next } = await getPair(
          this.options.httpUrl,
          this.key,
          query,
          this.#monitor.signal,
        );
        if (!pair || pair.Session !== this.#session) break;
        index = next;
      }
      this.lost.abort();
    } catch {
      // Monitor stopped by unlock(), or the agent failed (api/lock.go closes the channel then too).
      if (!this.#monitor.signal.aborted) this.lost.abort();
    }
  }
}
