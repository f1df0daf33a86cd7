/**
 * One lease keep-alive stream per coordinator, shared by all its leases. etcd has no unary
 * keep-alive: a keep-alive is a message on a bidirectional stream, answered with the lease's
 * remaining TTL (0 when the lease no longer exists).
 *
 * A request not answered within its timeout resets the stream (a paused or partitioned member
 * answers nothing, and the next stream may land on a healthy one); a broken stream fails every
 * pending request so the caller can retry.
 * @module
 */
import type { ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';
import { unavailable } from './errors.js';
import type { EtcdRpc } from './rpc.js';
import { SharedStream } from './stream.js';

interface Pending {
  readonly resolve: (ttlSeconds: number) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/** Keep-alives for many leases over one stream. */
export class KeepAliveChannel {
  readonly #stream: SharedStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;
  readonly #pending = new Map<string, Pending[]>();
  #closed = false;

  constructor(rpc: EtcdRpc) {
    this.#stream = new SharedStream(() => rpc.keepAliveStream(), {
      data: (res) => this.#answer(res),
      broken: (error) => this.#reset(unavailable('lease keep-alive', error)),
    });
  }

  /**
   * Sends one keep-alive for lease `key` (its id in decimal). Resolves with the TTL (seconds) the server reset it
   * to — `0` or less when the lease does not exist — or rejects when no answer came in
   * `timeoutMs` or the stream broke.
   */
  keepAlive(key: string, timeoutMs: number): Promise<number> {
    if (this.#closed) return Promise.reject(unavailable('lease keep-alive', new Error('coordinator closed')));
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#reset(unavailable('lease keep-alive', new Error(`no answer within ${timeoutMs} ms`)));
      }, timeoutMs);
      timer.unref();
      const queue = this.#pending.get(key) ?? [];
      queue.push({ resolve, reject, timer });
      this.#pending.set(key, queue);
      this.#stream.open().then(
        (stream) => {
          try {
            stream.write({ ID: key });
          } catch (error) {
            this.#reset(unavailable('lease keep-alive', error));
          }
        },
        (error) => this.#reset(unavailable('lease keep-alive', error)),
      );
    });
  }

  /** Ends the stream and fails whatever is pending. */
  close(): void {
    this.#closed = true;
    this.#reset(unavailable('lease keep-alive', new Error('coordinator closed')));
  }

  #answer(res: ILeaseKeepAliveResponse): void {
    const queue = this.#pending.get(res.ID);
    const first = queue?.shift();
    if (!first) return;
    if (queue!.length === 0) this.#pending.delete(res.ID);
    clearTimeout(first.timer);
    first.resolve(Number(res.TTL));
  }

  #reset(error: unknown): void {
    this.#stream.drop();
    const pending = [...this.#pending.values()].flat();
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
  }
}
