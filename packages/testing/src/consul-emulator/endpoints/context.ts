import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from '../options.js';
import type { ConsulState } from '../state.js';

/** What a handler needs about one request. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Decoded, canonical path (see `cleanPath`). */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly state: ConsulState;
  readonly options: ResolvedOptions;
  /** Aborts when the client goes away or the server closes; ends blocking waits. */
  readonly signal: AbortSignal;
}
