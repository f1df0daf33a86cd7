/**
 * A bidirectional gRPC stream a coordinator shares among many callers (the lease keep-alive
 * stream, the watch stream): opened on first use, and dropped when it breaks so that the next
 * use opens a new one, possibly on a healthier member.
 * @module
 */
import type { IDuplexStream } from 'etcd3';

/** What a {@link SharedStream} reports; only ever about the stream that is current. */
export interface SharedStreamEvents<Res> {
  /** An answer arrived. */
  readonly data: (res: Res) => void;
  /** The stream failed or ended: it is no longer usable. Call {@link SharedStream.drop}. */
  readonly broken: (error: unknown) => void;
}

/** One lazily opened stream; events of a dropped stream are ignored. */
export class SharedStream<Req, Res> {
  readonly #openStream: () => Promise<IDuplexStream<Req, Res>>;
  readonly #events: SharedStreamEvents<Res>;
  #stream: Promise<IDuplexStream<Req, Res>> | undefined;

  constructor(open: () => Promise<IDuplexStream<Req, Res>>, events: SharedStreamEvents<Res>) {
    this.#openStream = open;
    this.#events = events;
  }

  /** The stream in use (or being opened), `undefined` when there is none. */
  get current(): Promise<IDuplexStream<Req, Res>> | undefined {
    return this.#stream;
  }

  /** The stream in use, opened if there is none. */
  open(): Promise<IDuplexStream<Req, Res>> {
    if (this.#stream) return this.#stream;
    const opening = this.#openStream().then((stream) => {
      const current = () => this.#stream === opening;
      stream.on('data', (res: Res) => {
        if (current()) this.#events.data(res);
      });
      stream.on('error', (error: unknown) => {
        if (current()) this.#events.broken(error);
      });
      stream.on('end', () => {
        if (current()) this.#events.broken(new Error('stream ended'));
      });
      return stream;
    });
    // A failed open must not stick: the next use opens afresh.
    opening.catch(() => {
      if (this.#stream === opening) this.#stream = undefined;
    });
    this.#stream = opening;
    return opening;
  }

  /** Forgets the current stream and cancels it; the next {@link open} starts a new one. */
  drop(): void {
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
  }
}
