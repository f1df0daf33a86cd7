/**
 * One watch stream per coordinator, shared by all its waiters. A waiter asks to be woken
 * when any of a few keys is deleted at or after a revision; every watch starts at that
 * revision, so a delete that happened between the waiter's read and the watch's creation is
 * still delivered — nothing needs to wait for the server's "created" answer.
 *
 * Watch ids are chosen by the client (etcd ≥ 3.4), so creations are pipelined instead of
 * attached one at a time. A broken stream, or a watch the server cancels (e.g. its start
 * revision was compacted), wakes its waiters too: they re-read the queue, which is always
 * safe, and watch again.
 * @module
 */
import { FilterType, type IDuplexStream, type IWatchRequest, type IWatchResponse } from 'etcd3';
import type { EtcdRpc } from './rpc.js';

type Stream = IDuplexStream<IWatchRequest, IWatchResponse>;

/** Why a waiter was woken. */
export type Wake =
  | { readonly reason: 'deleted'; readonly key: Buffer }
  /** The stream broke or the server cancelled the watch: re-check, then watch again. */
  | { readonly reason: 'broken' };

/** A pending wake-up. */
export interface WatchTicket {
  /** Resolves once, on the first delete of a watched key (or a broken watch). Never rejects. */
  readonly woken: Promise<Wake>;
  /** Stops watching (idempotent). */
  cancel(): void;
}

interface Entry {
  readonly ids: string[];
  readonly wake: (wake: Wake) => void;
}

/** Delete-watches multiplexed over one stream. */
export class WatchChannel {
  readonly #rpc: EtcdRpc;
  #stream: Promise<Stream> | undefined;
  readonly #entries = new Map<string, Entry>();
  #nextId = 1;
  #closed = false;
  /** Watches created, for tests. */
  created = 0;

  constructor(rpc: EtcdRpc) {
    this.#rpc = rpc;
  }

  /** Wakes on the first delete of any of `keys` at revision `fromRevision` or later. */
  watchDeletes(keys: readonly Buffer[], fromRevision: bigint): WatchTicket {
    let resolve!: (wake: Wake) => void;
    const woken = new Promise<Wake>((r) => {
      resolve = r;
    });
    const ids = keys.map(() => String(this.#nextId++));
    let done = false;
    const entry: Entry = {
      ids,
      wake: (wake) => {
        if (done) return;
        done = true;
        this.#forget(ids, true);
        resolve(wake);
      },
    };
    if (this.#closed) {
      entry.wake({ reason: 'broken' });
      return { woken, cancel: () => {} };
    }
    for (const id of ids) this.#entries.set(id, entry);
    this.#open().then(
      (stream) => {
        if (done) return;
        for (const [i, key] of keys.entries()) {
          this.created++;
          stream.write({
            create_request: {
              key,
              start_revision: fromRevision.toString(),
              filters: [FilterType.Noput],
              watch_id: ids[i]!,
            },
          });
        }
      },
      () => entry.wake({ reason: 'broken' }),
    );
    return {
      woken,
      cancel: () => {
        if (done) return;
        done = true;
        this.#forget(ids, true);
        resolve({ reason: 'broken' });
      },
    };
  }

  /** Ends the stream; every waiter is woken. */
  close(): void {
    this.#closed = true;
    this.#breakAll();
  }

  #open(): Promise<Stream> {
    if (this.#stream) return this.#stream;
    const opening = this.#rpc.watchStream().then((stream) => {
      const current = () => this.#stream === opening;
      stream.on('data', (res) => {
        if (current()) this.#onResponse(res);
      });
      stream.on('error', () => {
        if (current()) this.#breakAll();
      });
      stream.on('end', () => {
        if (current()) this.#breakAll();
      });
      return stream;
    });
    opening.catch(() => {
      if (this.#stream === opening) this.#stream = undefined;
    });
    this.#stream = opening;
    return opening;
  }

  #onResponse(res: IWatchResponse): void {
    const entry = this.#entries.get(String(res.watch_id));
    if (!entry) return;
    if (res.canceled) {
      entry.wake({ reason: 'broken' });
      return;
    }
    const deleted = res.events?.find((e) => String(e.type).toLowerCase() === 'delete');
    if (deleted) entry.wake({ reason: 'deleted', key: deleted.kv.key });
  }

  #forget(ids: readonly string[], cancelOnServer: boolean): void {
    for (const id of ids) this.#entries.delete(id);
    const stream = this.#stream;
    if (!cancelOnServer || !stream) return;
    stream.then(
      (s) => {
        if (this.#stream !== stream) return;
        for (const id of ids) {
          try {
            s.write({ cancel_request: { watch_id: id } });
          } catch {
            // The stream is ending; the server drops its watches with it.
          }
        }
      },
      () => {},
    );
  }

  #breakAll(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.then(
      (s) => {
        try {
          s.cancel();
        } catch {
          // Already ended.
        }
      },
      () => {},
    );
    const entries = new Set(this.#entries.values());
    this.#entries.clear();
    for (const entry of entries) entry.wake({ reason: 'broken' });
  }
}
