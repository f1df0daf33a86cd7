/**
 * What the parent and a child client process say to each other. The child prints one JSON
 * object per line on stdout; the parent writes commands, one per line, on the child's stdin.
 * Times are `Date.now()` (the only clock two processes on one host share).
 * @module
 */

/** How the child is started: one JSON argument. */
export interface ChildOptions {
  /**
   * `hold`: acquire, report, hold until told; `close`: hold locks and wait, then close and
   * return; `wait`: one acquire on a held lock and nothing else (see {@link ChildOptions.wait}).
   */
  readonly mode: 'hold' | 'close' | 'wait';
  readonly url: string;
  /** Imported before `connect(url)` so the URL's scheme is registered. */
  readonly adapterModule: string;
  /** Lock names: `hold` uses the first; `close` uses two. */
  readonly names: readonly string[];
  readonly ttlMs: number;
  /** `hold` mode: hold a permit of a semaphore of this many permits instead of a lock. */
  readonly semaphorePermits?: number;
  /** `hold` mode: campaign in the election `names[0]` and lead with this value instead of a lock. */
  readonly electionValue?: string;
  /** Whether `close` mode also increments a counter (backends with counters). */
  readonly counter?: string;
  /** `wait` mode: how the one acquire ends, and who holds the lock it waits for. */
  readonly wait?: WaitScenario;
}

/**
 * The `wait` mode's acquire: `waitMs` and `signal` end by timing out, `lease` (no options)
 * by a grant once the holder's pure lease runs out. The holder is the parent, or — for
 * backends whose state lives inside one process — a second coordinator of the child's own,
 * which then holds nothing else open.
 */
export interface WaitScenario {
  /** What ends the wait: its `waitMs`, an aborted signal, or the holder's lease running out. */
  readonly ends: 'waitMs' | 'signal' | 'lease';
  /** How long the `waitMs` or `signal` variant waits. */
  readonly timeoutMs: number;
  /** Who holds the lock the child waits for: the parent process or the child's second coordinator. */
  readonly holder: 'parent' | 'child';
}

/** Lines the child prints. */
export type ChildEvent =
  | { readonly event: 'acquired'; readonly token: string | null; readonly at: number }
  | { readonly event: 'lost'; readonly code: string | null; readonly at: number }
  | { readonly event: 'released'; readonly result: boolean; readonly at: number }
  | { readonly event: 'ready'; readonly at: number }
  | { readonly event: 'closed'; readonly waitRejected: boolean; readonly at: number }
  | { readonly event: 'granted'; readonly token: string | null; readonly at: number }
  | { readonly event: 'proclaimed'; readonly ok: boolean; readonly code: string | null; readonly at: number }
  | { readonly event: 'rejected'; readonly reason: string; readonly at: number }
  | { readonly event: 'error'; readonly message: string; readonly at: number };

/**
 * Commands the parent writes: `release`, `exit` and (leading an election) `proclaim:<value>` in
 * hold mode, `go` once in wait mode.
 */
export type ChildCommand = 'release' | 'exit' | 'go' | `proclaim:${string}`;
