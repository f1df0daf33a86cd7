/**
 * What a worker tells the compare process about its backend, over the IPC channel.
 * @module
 */
import type { BackendOutcome, Row } from './backend.js';

/** One message of a worker. */
export type WorkerMessage =
  /** The backend's row so far (sent after every step). */
  | { readonly type: 'progress'; readonly report: Row }
  /** The run finished: the final row; nothing of the run is left on the backend or running. */
  | ({ readonly type: 'done' } & BackendOutcome)
  /** An uncaught exception or unhandled rejection ended the run. */
  | { readonly type: 'crash'; readonly reason: string };
