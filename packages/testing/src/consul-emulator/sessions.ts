import { randomUUID } from 'node:crypto';
import type { EmulatorClock } from './clock.js';

/** What happens to held locks when a session is invalidated (session.mdx › Create Session › Behavior). */
export type SessionBehavior = 'release' | 'delete';

/** A live session, as `/v1/session/info` reports it. */
export interface SessionRecord {
  readonly id: string;
  readonly name: string;
  readonly node: string;
  /** Nanoseconds, as Consul reports `LockDelay`. */
  readonly lockDelayNs: number;
  readonly behavior: SessionBehavior;
  /** The TTL text exactly as the client sent it (`''` for no TTL). */
  readonly ttl: string;
  /** The TTL in milliseconds; 0 means the session never expires by time. */
  readonly ttlMs: number;
  readonly nodeChecks: readonly string[];
  readonly serviceChecks: unknown;
  readonly createIndex: number;
  readonly modifyIndex: number;
}

export type SessionSpec = Omit<SessionRecord, 'id' | 'createIndex' | 'modifyIndex'>;

/**
 * The session table and its TTL timers. A TTL session is invalidated `invalidationFactor × TTL`
 * after its last create or renew; the table only reports expiry, `ConsulState` applies its effects.
 */
export class SessionTable {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #timers = new Map<string, unknown>();
  #tableIndex = 0;

  constructor(
    private readonly clock: EmulatorClock,
    private readonly invalidationFactor: number,
    private readonly onExpired: (id: string) => void,
  ) {}

  /** The last index at which a session was created or destroyed (0 before the first). */
  get tableIndex(): number {
    return this.#tableIndex;
  }

  get(id: string): SessionRecord | undefined {
    return this.#sessions.get(id);
  }

  exists(id: string): boolean {
    return this.#sessions.has(id);
  }

  /** All live sessions, ordered by ID as Consul's session table is. */
  list(): SessionRecord[] {
    return [...this.#sessions.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  create(spec: SessionSpec, index: number): SessionRecord {
    let id = randomUUID();
    while (this.#sessions.has(id)) id = randomUUID();
    const record: SessionRecord = { ...spec, id, createIndex: index, modifyIndex: index };
    this.#sessions.set(id, record);
    this.#tableIndex = index;
    this.#armTimer(record);
    return record;
  }

  /** Restarts the TTL countdown; `undefined` when the session no longer exists. */
  renew(id: string): SessionRecord | undefined {
    const record = this.#sessions.get(id);
    if (record) this.#armTimer(record);
    return record;
  }

  /** Removes a session and its timer; returns it, or `undefined` if it was already gone. */
  remove(id: string, index: number): SessionRecord | undefined {
    const record = this.#sessions.get(id);
    if (!record) return undefined;
    this.#disarmTimer(id);
    this.#sessions.delete(id);
    this.#tableIndex = index;
    return record;
  }

  /** Stops every TTL timer (server shutdown). */
  close(): void {
    for (const id of [...this.#timers.keys()]) this.#disarmTimer(id);
  }

  #armTimer(record: SessionRecord): void {
    if (record.ttlMs <= 0) return;
    this.#disarmTimer(record.id);
    const handle = this.clock.setTimer(() => {
      this.#timers.delete(record.id);
      this.onExpired(record.id);
    }, record.ttlMs * this.invalidationFactor);
    this.#timers.set(record.id, handle);
  }

  #disarmTimer(id: string): void {
    const handle = this.#timers.get(id);
    if (handle === undefined) return;
    this.clock.clearTimer(handle);
    this.#timers.delete(id);
  }
}
