/**
 * One watch stream per coordinator, shared by all its waiters. A waiter asks to be woken when
 * any of a few keys is deleted.
 *
 * Watches start "now", not at the revision the waiter last read: etcd delivers events to a
 * watch that starts in the past only after its background sync loop has caught it up, which
 * runs every 100 ms — a handoff could wait that long. A watch that starts now is live at
 * once; its "created" answer carries the revision it starts after, and a waiter that read
 * the queue at an older revision re-reads it once (see locks.ts) to cover the gap.
 *
 * Watch ids are chosen by the client (etcd ≥ 3.4), so creations are pipelined instead of
 * attached one at a time. A broken stream, or a watch the server cancels, wakes its waiters
 * too: they re-read the queue, which is always safe, and watch again.
 * @module
 */
import { FilterType, type IWatchRequest, type IWatchResponse } from 'etcd3';
import type { EtcdRpc } from './rpc.js';
import { SharedStream } from './stream.js';

/** Why a waiter was woken. */
export type Wake =
  /** A watched key was deleted, at `revision`. */
  | { readonly reason: 'deleted'; readonly key: Buffer; readonly revision: bigint }
  /** The stream broke or the server cancelled the watch: re-check, then watch again. */
  | { readonly reason: 'broken' };

/** A pending wake-up. */
export interface WatchTicket {
  /**
   * Resolves once every watch of the ticket is live, with the revision they start after
   * (deletes after it are delivered); `undefined` if the ticket was woken or cancelled first.
   */
  readonly created: Promise<bigint | undefined>;
  /** Resolves once, on the first delete of a watched key (or a broken watch). Never rejects. */
  readonly woken: Promise<Wake>;
  /** Stops watching (idempotent). */
  cancel(): void;
}

interface Entry {
  readonly ids: readonly string[];
  /** Watches of this entry the server has confirmed, and the largest revision they start after. */
  confirmed: number;
  createdAt: bigint;
  readonly onCreated: (revision: bigint) => void;
  readonly wake: (wake: Wake) => void;
}

/** Delete-watches multiplexed over one stream. */
export class WatchChannel {
  readonly #stream: SharedStream<IWatchRequest, IWatchResponse>;
  readonly #entries = new Map<string, Entry>();
  #nextId = 1;
  #closed = false;
  /** Watches created, for tests. */
  created = 0;

  constructor(rpc: EtcdRpc) {
    this.#stream = new SharedStream(() => rpc.watchStream(), {
      data: (res) => this.#onResponse(res),
      broken: () => this.#breakAll(),
    });
  }

  /** Wakes on the first delete of any of `keys` after the watches are live. */
  watchDeletes(keys: readonly Buffer[]): WatchTicket {
    let resolveWoken!: (wake: Wake) => void;
    let resolveCreated!: (revision: bigint | undefined) => void;
    const woken = new Promise<Wake>((r) => {
      resolveWoken = r;
    });
    const created = new Promise<bigint | undefined>((r) => {
      resolveCreated = r;
    });
    const ids = keys.map(() => String(this.#nextId++));
    let done = false;
    const finish = (wake: Wake) => {
      if (done) return;
      done = true;
      this.#forget(ids);
      resolveCreated(undefined);
      resolveWoken(wake);
    };
    const entry: Entry = { ids, confirmed: 0, createdAt: 0n, onCreated: resolveCreated, wake: finish };
    if (this.#closed) {
      finish({ reason: 'broken' });
      return { created, woken, cancel: () => {} };
    }
    for (const id of ids) this.#entries.set(id, entry);
    this.#stream.open().then(
      (stream) => {
        if (done) return;
        for (const [i, key] of keys.entries()) {
          this.created++;
          stream.write({ create_request: { key, filters: [FilterType.Noput], watch_id: ids[i]! } });
        }
      },
      () => finish({ reason: 'broken' }),
    );
    return { created, woken, cancel: () => finish({ reason: 'broken' }) };
  }

  /** Ends the stream; every waiter is woken. */
  close(): void {
    this.#closed = true;
    this.#breakAll();
  }

  #onResponse(res: IWatchResponse): void {
    const entry = this.#entries.get(String(res.watch_id));
    if (!entry) return;
    if (res.canceled) {
      entry.wake({ reason: 'broken' });
      return;
    }
    if (res.created) {
      const revision = BigInt(res.header.revision);
      if (revision > entry.createdAt) entry.createdAt = revision;
      if (++entry.confirmed === entry.ids.length) entry.onCreated(entry.createdAt);
    }
    const deleted = res.events?.find((e) => String(e.type).toLowerCase() === 'delete');
    if (deleted) {
      entry.wake({ reason: 'deleted', key: deleted.kv.key, revision: BigInt(deleted.kv.mod_revision) });
    }
  }

  #forget(ids: readonly string[]): void {
    for (const id of ids) this.#entries.delete(id);
    const stream = this.#stream.current;
    if (!stream) return;
    stream.then(
      (s) => {
        if (this.#stream.current !== stream) return;
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
    this.#stream.drop();
    const entries = new Set(this.#entries.values());
    this.#entries.clear();
    for (const entry of entries) entry.wake({ reason: 'broken' });
  }
}
