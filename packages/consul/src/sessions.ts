/**
 * The coordinator's sessions: one per lock TTL, created on first use (one request, shared by
 * concurrent acquirers), replaced after it is lost, retired after a while without locks, and
 * destroyed on close.
 * @module
 */
import { hostname } from 'node:os';
import { BackendUnavailableError } from '@lockstep/core';
import type { ConsulHttp } from './http.js';
import { type ConsulSession, createSession } from './session.js';

/** A session unused for this long (and at least 2 TTLs) is destroyed; the next acquire makes a new one. */
const IDLE_RETIRE_MS = 60_000;

/** Sessions by TTL. */
export class SessionPool {
  readonly #http: ConsulHttp;
  readonly #lockDelayMs: number;
  readonly #sessions = new Map<number, ConsulSession>();
  readonly #creating = new Map<number, Promise<ConsulSession>>();
  readonly #name = `lockstep ${hostname()} pid ${process.pid}`;
  readonly #reaper: NodeJS.Timeout;
  #closed = false;

  constructor(http: ConsulHttp, lockDelayMs: number) {
    this.#http = http;
    this.#lockDelayMs = lockDelayMs;
    this.#reaper = setInterval(() => this.#retireIdle(), 10_000);
    this.#reaper.unref();
  }

  /** The live session for `ttlMs`, creating it when there is none. */
  async session(ttlMs: number): Promise<ConsulSession> {
    if (this.#closed) throw new BackendUnavailableError('consul', 'the coordinator was closed');
    const current = this.#sessions.get(ttlMs);
    if (current?.alive) return current;
    let creating = this.#creating.get(ttlMs);
    if (!creating) {
      creating = this.#create(ttlMs).finally(() => this.#creating.delete(ttlMs));
      this.#creating.set(ttlMs, creating);
    }
    return creating;
  }

  /** Destroys every session (after the coordinator released its locks). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#reaper);
    await Promise.allSettled([...this.#creating.values()]);
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.allSettled(sessions.map((session) => session.destroy()));
  }

  async #create(ttlMs: number): Promise<ConsulSession> {
    const previous = this.#sessions.get(ttlMs);
    if (previous) {
      // Not alive any more (lost, or its renewals are failing): never hand it out again.
      this.#sessions.delete(ttlMs);
      void previous.destroy();
    }
    const session = await createSession(this.#http, {
      ttlMs,
      lockDelayMs: this.#lockDelayMs,
      name: this.#name,
    });
    if (this.#closed) {
      await session.destroy();
      throw session.lost.reason;
    }
    this.#sessions.set(ttlMs, session);
    session.lost.addEventListener(
      'abort',
      () => {
        if (this.#sessions.get(ttlMs) === session) this.#sessions.delete(ttlMs);
      },
      { once: true },
    );
    return session;
  }

  #retireIdle(): void {
    for (const [ttlMs, session] of this.#sessions) {
      if (session.idleMs > Math.max(IDLE_RETIRE_MS, 2 * ttlMs)) {
        this.#sessions.delete(ttlMs);
        void session.destroy();
      }
    }
  }
}
