/**
 * The round trips lockstep makes to etcd, in one place: every unary call gets a deadline,
 * idempotent ones are retried (across members) until that deadline, and every failure
 * reaches callers as `BackendUnavailableError` with the etcd3 error as `cause`.
 *
 * Keys are plain strings here and become bytes under the client's namespace (if the user
 * handed us `etcd.namespace('app/')`, every key gets `app/` in front).
 * @module
 */
import { Backoff, sleep } from '@lockstep/core/driver';
import { isBrokenCircuitError } from 'cockatiel';
import type {
  IDeleteRangeResponse,
  IDuplexStream,
  ILeaseKeepAliveResponse,
  ILeaseTimeToLiveResponse,
  IRangeRequest,
  IRangeResponse,
  ITxnRequest,
  ITxnResponse,
  IWatchRequest,
  IWatchResponse,
  Namespace,
} from 'etcd3';
import { isLeaseNotFound, isRetryable, neverSent, unavailable } from './errors.js';
import { prefixEnd } from './keys.js';

/** Most keys whose byte form is kept (then the cache starts over). */
const KEY_CACHE_SIZE = 1_024;

/** How a request may be repeated after a failure. */
export type RetryMode =
  /** Repeating it changes nothing: retry transient failures until the deadline. */
  | 'idempotent'
  /** Only retry when the first attempt provably never reached a server. */
  | 'unsent-only';

/** The etcd calls lockstep makes, with deadlines and retries. */
export class EtcdRpc {
  readonly #client: Namespace;
  readonly #namespace: Buffer;
  /** Deadline of one call (all its retries included), in ms. */
  readonly timeoutMs: number;
  /** Round trips started (unary calls and their retries), for tests and benchmarks. */
  calls = 0;
  readonly #keyBytes = new Map<string, Buffer>();
  readonly #prefixEnds = new Map<string, Buffer>();
  /** The last failure that came from a member (not from etcd3's circuit breaker). */
  #lastServerFailure: unknown;

  constructor(client: Namespace, timeoutMs: number) {
    this.#client = client;
    this.#namespace = Buffer.from(client.prefix ?? Buffer.alloc(0));
    this.timeoutMs = timeoutMs;
  }

  /**
   * A key's bytes, under the client's namespace. Shared and cached (a lock cycle names the same
   * few keys again and again): never modify the returned buffer.
   */
  key(key: string): Buffer {
    return (
      this.#keyBytes.get(key) ?? kept(this.#keyBytes, key, Buffer.concat([this.#namespace, Buffer.from(key)]))
    );
  }

  /** The end of the range of every key starting with `prefix` (cached like {@link key}). */
  prefixEnd(prefix: string): Buffer {
    return this.#prefixEnds.get(prefix) ?? kept(this.#prefixEnds, prefix, prefixEnd(this.key(prefix)));
  }

  /** A key as the user's (namespaced) client would name it. */
  unprefixed(key: Buffer): string {
    return key.subarray(this.#namespace.length).toString();
  }

  /**
   * One transaction. `request` may depend on the attempt (0 first, then 1, 2… for retries):
   * a request can stay lean on its first attempt and ask for more only when an earlier
   * attempt's outcome is unknown.
   */
  txn(
    request: ITxnRequest | ((attempt: number) => ITxnRequest),
    what: string,
    mode: RetryMode = 'idempotent',
  ): Promise<ITxnResponse> {
    const build = typeof request === 'function' ? request : () => request;
    return this.#call(what, mode, (deadline, attempt) => this.#client.kv.txn(build(attempt), { deadline }));
  }

  /** Deletes one key. Idempotent. */
  deleteKey(key: Buffer, what: string): Promise<IDeleteRangeResponse> {
    return this.#call(what, 'idempotent', (deadline) => this.#client.kv.deleteRange({ key }, { deadline }));
  }

  /** Reads keys. Idempotent. */
  range(request: IRangeRequest, what: string): Promise<IRangeResponse> {
    return this.#call(what, 'idempotent', (deadline) => this.#client.kv.range(request, { deadline }));
  }

  /** Grants a lease; resolves with its id. */
  async grant(ttlSeconds: number): Promise<bigint> {
    // Not idempotent (a retry could leave an orphan lease), but an orphan only expires.
    const res = await this.#call('lease grant', 'unsent-only', (deadline) =>
      this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, { deadline }),
    );
    if (res.error) throw unavailable('lease grant', new Error(res.error));
    return BigInt(res.ID);
  }

  /** Revokes a lease (deleting its keys); one that no longer exists counts as revoked. */
  async revoke(id: bigint): Promise<void> {
    await this.#call('lease revoke', 'idempotent', (deadline) =>
      this.#client.leaseClient.leaseRevoke({ ID: id.toString() }, { deadline }),
    ).catch((error: unknown) => {
      if (!isLeaseNotFound(error)) throw error;
    });
  }

  /** A lease's remaining TTL (seconds, negative when it is gone) and every key attached to it. */
  timeToLive(id: string): Promise<ILeaseTimeToLiveResponse> {
    return this.#call('lease time-to-live', 'idempotent', (deadline) =>
      this.#client.leaseClient.leaseTimeToLive({ ID: id, keys: true }, { deadline }),
    );
  }

  /**
   * One keep-alive of lease `id`, on a stream of its own (etcd has no unary keep-alive): the TTL
   * (seconds) the lease was reset to, 0 when it is gone. A fresh stream per keep-alive costs one
   * frame on the open connection, and lets the next keep-alive reach another member when this
   * one's did not answer in time.
   */
  async keepAlive(id: string, timeoutMs: number): Promise<number> {
    const stream = await this.#client.leaseClient
      .leaseKeepAlive({ deadline: Date.now() + timeoutMs })
      .catch(this.#rethrowReal);
    try {
      return await new Promise<number>((resolve, reject) => {
        stream.on('data', (res: ILeaseKeepAliveResponse) => resolve(Number(res.TTL)));
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('the stream ended unanswered')));
        stream.write({ ID: id });
      });
    } catch (error) {
      this.#noteFailure(error);
      throw unavailable('lease keep-alive', this.#realCause(error));
    } finally {
      stream.end();
    }
  }

  /** Opens a watch stream (on some member). */
  watchStream(): Promise<IDuplexStream<IWatchRequest, IWatchResponse>> {
    return this.#client.watchClient.watch().catch(this.#rethrowReal);
  }

  readonly #rethrowReal = (error: unknown): never => {
    this.#noteFailure(error);
    throw this.#realCause(error);
  };

  #call<T>(
    what: string,
    mode: RetryMode,
    attempt: (deadline: number, attempt: number) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    this.calls++;
    // The first attempt is the whole story almost always: no async frame around it.
    return attempt(deadline, 0).catch((error: unknown) => this.#retry(what, mode, attempt, deadline, error));
  }

  async #retry<T>(
    what: string,
    mode: RetryMode,
    attempt: (deadline: number, attempt: number) => Promise<T>,
    deadline: number,
    firstError: unknown,
  ): Promise<T> {
    let error = firstError;
    const backoff = new Backoff(10, 250);
    for (let retry = 1; ; retry++) {
      this.#noteFailure(error);
      const again = mode === 'idempotent' ? isRetryable(error) : neverSent(error);
      const pause = backoff.next();
      if (!again || Date.now() + pause >= deadline) throw unavailable(what, this.#realCause(error));
      await sleep(pause);
      this.calls++;
      try {
        return await attempt(deadline, retry);
      } catch (next) {
        error = next;
      }
    }
  }

  #noteFailure(error: unknown): void {
    if (!isBrokenCircuitError(error)) this.#lastServerFailure = error;
  }

  /**
   * What to report for `error`. etcd3 refuses to even try a member whose circuit breaker is
   * open ("Execution prevented because the circuit breaker is open"); that says nothing about
   * etcd, so the failure that opened the breaker is reported instead.
   */
  #realCause(error: unknown): unknown {
    return isBrokenCircuitError(error) ? (this.#lastServerFailure ?? error) : error;
  }
}

/** Keeps `value` as `map`'s for `key` (the map starts over past its size bound). */
function kept(map: Map<string, Buffer>, key: string, value: Buffer): Buffer {
  if (map.size >= KEY_CACHE_SIZE) map.clear();
  map.set(key, value);
  return value;
}
