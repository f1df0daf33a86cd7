/**
 * One watch stream per coordinator, shared by all its waiters. A waiter asks to be told when
 * any of a few keys is deleted.
 *
 * Watches start "now", not at the revision the waiter last read: etcd delivers events to a
 * watch that starts in the past only after its background sync loop has caught it up, which
 * runs every 100 ms — a handoff could wait that long. A watch that starts now is live at
 * once; its "created" answer carries the revision it starts after, and a waiter that read
 * the queue at an older revision reads it once more to cover the gap.
 *
 * Watch ids are chosen by the client (etcd ≥ 3.4), so creations are pipelined instead of
 * attached one at a time. A broken stream, or a watch the server cancels, tells its waiters
 * too: they re-read the queue, which is always safe, and watch again.
 * @module
 */
import {
  FilterType,
  type IDuplexStream,
  type IEvent,
  type IWatchCreateRequest,
  type IWatchRequest,
  type IWatchResponse,
} from 'etcd3';
import type { EtcdRpc } from './rpc.js';

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/** What a waiter hears of its watches. After `deleted` or `broken` it hears nothing more. */
export interface DeleteWatcher {
  /** Every watch is live: deletes after `revision` are reported. */
  live(revision: bigint): void;
  /** A watched key was deleted at `revision`. */
  deleted(revision: bigint): void;
  /** The stream broke or the server cancelled a watch: re-read, then watch again. */
  broken(): void;
}

/** What an observer hears of a range watch. After `broken` it hears nothing more. */
export interface RangeWatcher {
  /** Changes, in revision order. */
  events(events: readonly IEvent[]): void;
  /** The stream broke or the server cancelled the watch (compacted past its start): read again. */
  broken(): void;
}

interface Entry {
  readonly ids: readonly string[];
  readonly watcher: DeleteWatcher;
  /** A range watch's listener of every event. */
  readonly events?: (events: IEvent[]) => void;
  /** Watches the server has confirmed, and the largest revision they start after. */
  confirmed: number;
  liveAfter: bigint;
}

/** Delete-watches multiplexed over one stream. */
export class WatchChannel {
  readonly #rpc: EtcdRpc;
  /** The stream in use (or being opened); opened on first use and after it broke. */
  #stream: Promise<WatchStream> | undefined;
  readonly #entries = new Map<string, Entry>();
  #nextId = 1;
  #closed = false;

  constructor(rpc: EtcdRpc) {
    this.#rpc = rpc;
  }

  /** Watches deletes of `keys`; returns the cancel (idempotent; nothing is reported after it). */
  watchDeletes(keys: readonly Buffer[], watcher: DeleteWatcher): () => void {
    return this.#add(
      keys.map((key) => ({ key, filters: [FilterType.Noput] })),
      watcher,
    );
  }

  /**
   * Watches every change of the keys in `[key, rangeEnd)` from `startRevision` on (a start in
   * the past is served once etcd's sync loop catches the watch up: up to 100 ms late, never
   * lost). Returns the cancel.
   */
  watchRange(key: Buffer, rangeEnd: Buffer, startRevision: bigint, watcher: RangeWatcher): () => void {
    const quiet = () => {};
    return this.#add(
      [{ key, range_end: rangeEnd, start_revision: startRevision.toString() }],
      { live: quiet, deleted: quiet, broken: () => watcher.broken() },
      (events) => watcher.events(events),
    );
  }

  #add(requests: readonly IWatchCreateRequest[], watcher: DeleteWatcher, events?: (e: IEvent[]) => void) {
    if (this.#closed) {
      queueMicrotask(() => watcher.broken());
      return () => {};
    }
    const entry: Entry = {
      ids: requests.map(() => String(this.#nextId++)),
      watcher,
      confirmed: 0,
      liveAfter: 0n,
      ...(events ? { events } : {}),
    };
    for (const id of entry.ids) this.#entries.set(id, entry);
    this.#open().then(
      (stream) => {
        if (!this.#entries.has(entry.ids[0]!)) return;
        for (const [i, request] of requests.entries()) {
          stream.write({ create_request: { ...request, watch_id: entry.ids[i]! } });
        }
      },
      () => this.#end(entry)?.broken(),
    );
    return () => void this.#end(entry);
  }

  /** Ends the stream; every waiter is told it broke. */
  close(): void {
    this.#closed = true;
    this.#breakAll();
  }

  #onResponse(res: IWatchResponse): void {
    const entry = this.#entries.get(String(res.watch_id));
    if (!entry) return;
    if (res.canceled) {
      this.#end(entry)?.broken();
      return;
    }
    if (res.created) {
      const revision = BigInt(res.header.revision);
      if (revision > entry.liveAfter) entry.liveAfter = revision;
      if (++entry.confirmed === entry.ids.length) entry.watcher.live(entry.liveAfter);
    }
    if (entry.events) {
      if (res.events?.length) entry.events(res.events);
      return;
    }
    const deleted = res.events?.find(isDelete);
    if (deleted) this.#end(entry)?.deleted(BigInt(deleted.kv.mod_revision));
  }

  /** Forgets `entry` and cancels its watches on the server; its watcher, if it was still on. */
  #end(entry: Entry): DeleteWatcher | undefined {
    if (!this.#entries.delete(entry.ids[0]!)) return undefined;
    for (const id of entry.ids.slice(1)) this.#entries.delete(id);
    const stream = this.#stream;
    stream?.then(
      (s) => {
        if (this.#stream !== stream) return;
        try {
          for (const id of entry.ids) s.write({ cancel_request: { watch_id: id } });
        } catch {
          // The stream is ending; the server drops its watches with it.
        }
      },
      () => {},
    );
    return entry.watcher;
  }

  #open(): Promise<WatchStream> {
    if (this.#stream) return this.#stream;
    const opening = this.#rpc.watchStream().then((stream) => {
      // Events of a stream that was dropped are not ours to report.
      stream.on('data', (res: IWatchResponse) => this.#stream === opening && this.#onResponse(res));
      stream.on('error', () => this.#stream === opening && this.#breakAll());
      stream.on('end', () => this.#stream === opening && this.#breakAll());
      return stream;
    });
    opening.catch(() => {
      if (this.#stream === opening) this.#stream = undefined;
    });
    this.#stream = opening;
    return opening;
  }

  /** Drops the stream (the next watch opens another, maybe on a healthier member); every waiter is told. */
  #breakAll(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.then((s) => s.cancel()).catch(() => {});
    const entries = new Set(this.#entries.values());
    this.#entries.clear();
    for (const entry of entries) entry.watcher.broken();
  }
}

/** Whether `event` is a delete (etcd3 spells the type in more than one case). */
export function isDelete(event: IEvent): boolean {
  return String(event.type).toLowerCase() === 'delete';
}
