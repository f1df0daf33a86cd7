/** Messages between the demo's coordinator process and its workers. */
export type WorkerEvent =
  | { type: 'ready'; worker: number }
  | { type: 'acquired'; worker: number; token: string; waitedMs: number }
  | { type: 'write'; worker: number; token: string; note: string }
  | { type: 'incremented'; worker: number; value: number }
  | { type: 'releasing'; worker: number; token: string }
  | { type: 'lost'; worker: number; token: string; reason: string }
  | { type: 'done'; worker: number }
  | { type: 'error'; worker: number; message: string };

export type LedgerReply = { type: 'ledger'; accepted: boolean; lastToken?: string };

/** Sent to every worker once all of them are connected: start the rounds together. */
export type StartSignal = { type: 'start' };

/** Messages from the coordinator process to a worker. */
export type ParentMessage = LedgerReply | StartSignal;

export interface WorkerOptions {
  readonly worker: number;
  readonly url: string;
  readonly rounds: number;
  readonly holdMs: number;
  readonly ttlMs: number;
  readonly lockName: string;
  readonly counterName: string;
}
