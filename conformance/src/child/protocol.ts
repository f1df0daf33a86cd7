/**
 * What the parent and a child client process say to each other. The child prints one JSON
 * object per line on stdout; the parent writes commands, one per line, on the child's stdin.
 * Times are `Date.now()` (the only clock two processes on one host share).
 * @module
 */

/** How the child is started: one JSON argument. */
export interface ChildOptions {
  /** `hold`: acquire, report, hold until told; `close`: hold locks and wait, then close and return. */
  readonly mode: 'hold' | 'close';
  readonly url: string;
  /** Imported before `connect(url)` so the URL's scheme is registered. */
  readonly adapterModule: string;
  /** Lock names: `hold` uses the first; `close` uses two. */
  readonly names: readonly string[];
  readonly ttlMs: number;
  /** Whether `close` mode also increments a counter (backends with counters). */
  readonly counter?: string;
}

/** Lines the child prints. */
export type ChildEvent =
  | { readonly event: 'acquired'; readonly token: string | null; readonly at: number }
  | { readonly event: 'lost'; readonly code: string | null; readonly at: number }
  | { readonly event: 'released'; readonly result: boolean; readonly at: number }
  | { readonly event: 'ready'; readonly at: number }
  | { readonly event: 'closed'; readonly waitRejected: boolean; readonly at: number }
  | { readonly event: 'error'; readonly message: string; readonly at: number };

/** Commands the parent writes (hold mode). */
export type ChildCommand = 'release' | 'exit';
