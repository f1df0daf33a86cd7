/**
 * One Consul session: created with a TTL, kept alive at about TTL/2, and declared lost — once —
 * when Consul says it is gone (a renewal answered 404) or when renewals have failed until the
 * instant Consul could have invalidated it (last renewal sent + TTL).
 *
 * Every lock a coordinator holds with this TTL rides on this session, so a lost session aborts all
 * of their grants. The session also keeps the coordinator's local claims: Consul lets a session
 * acquire a key it already holds (acquire is re-entrant per session), so two handles of one
 * coordinator must be kept apart here, before any request is sent.
 * @module
 */
import { BackendUnavailableError } from '@lockstep/core';
import type { ConsulHttp } from './http.js';

/** What a session needs to know when it is created. */
export interface SessionSpec {
  readonly ttlMs: number;
  readonly lockDelayMs: number;
  /** Shown in Consul's UI and `/v1/session/list`. */
  readonly name: string;
}

/** Why a session ended. */
export type SessionEnd = 'gone' | 'unreachable' | 'destroyed';

/** A grant riding on a session: told when the session ends. */
export interface SessionMember {
  onSessionLost(reason: Error): void;
}

/** Creates a session; resolves once Consul answered with its ID. */
export async function createSession(http: ConsulHttp, spec: SessionSpec): Promise<ConsulSession> {
  const sentAt = performance.now();
  const reply = await http.send({
    method: 'PUT',
    path: '/v1/session/create',
    doing: 'creating a session',
    // Behavior `delete`: when the session is invalidated its keys are deleted, not merely unlocked,
    // so a crashed holder leaves nothing behind (our release deletes the key too). LockDelay is sent
    // as a duration string; "0s" disables it (Sessions overview: 0 to 60 s).
    body: JSON.stringify({
      Name: spec.name,
      TTL: `${Math.ceil(spec.ttlMs / 1000)}s`,
      Behavior: 'delete',
      LockDelay: spec.lockDelayMs === 0 ? '0s' : `${spec.lockDelayMs}ms`,
    }),
  });
  if (reply.status !== 200) throw http.failure(reply, 'creating a session');
  let id: unknown;
  try {
    id = (JSON.parse(reply.text) as { ID?: unknown }).ID;
  } catch {
    id = undefined;
  }
  if (typeof id !== 'string' || id === '') {
    throw new BackendUnavailableError(
      'consul',
      `creating a session: no session ID in ${reply.text.slice(0, 200)}`,
    );
  }
  return new ConsulSession(http, id, spec.ttlMs, sentAt);
}

/** A live session (see the module comment). */
export class ConsulSession {
  readonly id: string;
  readonly ttlMs: number;
  readonly #http: ConsulHttp;
  readonly #members = new Set<SessionMember>();
  readonly #claims = new Map<string, symbol>();
  readonly #stopped = new AbortController();
  readonly #lost = new AbortController();
  /** `performance.now()` when the request that last proved the session alive was sent. */
  #confirmedAt: number;
  #renewTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #renewing = false;
  #destroyed = false;
  #lastError: unknown;
  /** Attempts in progress that may still claim a key (keeps an idle session from being retired). */
  #pending = 0;
  #idleSince: number;

  constructor(http: ConsulHttp, id: string, ttlMs: number, createdAt: number) {
    this.#http = http;
    this.id = id;
    this.ttlMs = ttlMs;
    this.#confirmedAt = createdAt;
    this.#idleSince = performance.now();
    this.#armWatchdog();
    this.#scheduleRenewal(ttlMs / 2);
  }

  /** Aborted, with an Error saying why, when the session is lost or destroyed. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** True while the session may still be alive on the server. */
  get alive(): boolean {
    return !this.#lost.signal.aborted && performance.now() < this.#confirmedAt + this.ttlMs;
  }

  /** How long nothing has used the session (no claims, no attempt in progress); 0 while in use. */
  get idleMs(): number {
    return this.#claims.size === 0 && this.#pending === 0 ? performance.now() - this.#idleSince : 0;
  }

  /** Marks an acquisition attempt in progress (call {@link endAttempt} afterwards). */
  beginAttempt(): void {
    this.#pending++;
  }

  endAttempt(): void {
    this.#pending--;
    this.#touch();
  }

  /**
   * Claims `key` for one local grant. `undefined` when another handle of this coordinator holds it
   * (or is acquiring it) with this session: then the lock is taken, no request needed.
   */
  claim(key: string): symbol | undefined {
    if (this.#claims.has(key)) return undefined;
    const claim = Symbol(key);
    this.#claims.set(key, claim);
    return claim;
  }

  /** Whether `claim` is still the claim on `key`. */
  owns(key: string, claim: symbol): boolean {
    return this.#claims.get(key) === claim;
  }

  /** Drops `claim` (no-op when it is no longer the claim on `key`). */
  unclaim(key: string, claim: symbol): void {
    if (this.#claims.get(key) === claim) {
      this.#claims.delete(key);
      this.#touch();
    }
  }

  /** Registers a grant to be told when the session ends; returns the unregister function. */
  join(member: SessionMember): () => void {
    if (this.#lost.signal.aborted) {
      const reason = this.#lost.signal.reason as Error;
      queueMicrotask(() => member.onSessionLost(reason));
      return () => {};
    }
    this.#members.add(member);
    return () => this.#members.delete(member);
  }

  /**
   * Declares the session lost: stops renewing and tells every grant. Used on a 404 from Consul, when
   * renewals failed past the TTL, and when an acquire found the session unknown to the server.
   */
  markLost(end: SessionEnd, cause?: unknown): void {
    if (this.#lost.signal.aborted) return;
    this.#stop();
    const reason = new Error(`Consul session ${this.id} ${describeEnd(end)}`, { cause });
    this.#lost.abort(reason);
    this.#claims.clear();
    for (const member of [...this.#members]) member.onSessionLost(reason);
    this.#members.clear();
  }

  /**
   * Destroys the session on the server (best effort: a failure only means Consul invalidates it at
   * its TTL). Consul starts the lock-delay for keys the session still holds when destroyed, so
   * callers release keys first.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.markLost('destroyed');
    await this.#http
      .send({
        method: 'PUT',
        path: `/v1/session/destroy/${this.id}`,
        doing: 'destroying a session',
        timeoutMs: Math.min(this.#http.requestTimeoutMs, 2_000),
      })
      .catch(() => {});
  }

  /** Asks Consul whether the session still exists (used when an acquire was refused oddly). */
  async existsOnServer(): Promise<boolean> {
    const reply = await this.#http.send({
      method: 'GET',
      path: `/v1/session/info/${this.id}`,
      doing: 'reading a session',
    });
    if (reply.status !== 200) throw this.#http.failure(reply, 'reading a session');
    const parsed = JSON.parse(reply.text) as unknown;
    return Array.isArray(parsed) && parsed.length > 0;
  }

  #touch(): void {
    if (this.#claims.size === 0 && this.#pending === 0) this.#idleSince = performance.now();
  }

  #stop(): void {
    this.#stopped.abort();
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#watchdog);
  }

  #armWatchdog(): void {
    clearTimeout(this.#watchdog);
    // Consul never invalidates a session before TTL after the renewal that reached it, and that
    // renewal left here at #confirmedAt or later: until then the session is certainly alive.
    const delay = Math.max(0, this.#confirmedAt + this.ttlMs - performance.now());
    this.#watchdog = setTimeout(() => this.#onWatchdog(), delay);
    this.#watchdog.unref();
  }

  #onWatchdog(): void {
    if (this.#lost.signal.aborted) return;
    if (performance.now() < this.#confirmedAt + this.ttlMs) this.#armWatchdog();
    else this.markLost('unreachable', this.#lastError);
  }

  #scheduleRenewal(delayMs: number): void {
    if (this.#stopped.signal.aborted) return;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => void this.#renew(), Math.max(1, delayMs));
    this.#renewTimer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#stopped.signal.aborted) return;
    this.#renewing = true;
    const sentAt = performance.now();
    const deadline = this.#confirmedAt + this.ttlMs;
    try {
      const reply = await this.#http.send({
        method: 'PUT',
        path: `/v1/session/renew/${this.id}`,
        doing: 'renewing the session',
        // A renewal that arrives after the session may have expired proves nothing: never wait longer.
        timeoutMs: Math.max(1, Math.min(this.#http.requestTimeoutMs, deadline - sentAt)),
        signal: this.#stopped.signal,
      });
      if (reply.status === 404) return this.markLost('gone');
      if (reply.status !== 200) throw this.#http.failure(reply, 'renewing the session');
      if (this.#lost.signal.aborted) return;
      this.#confirmedAt = Math.max(this.#confirmedAt, sentAt);
      this.#lastError = undefined;
      this.#armWatchdog();
      this.#scheduleRenewal(this.ttlMs / 2);
    } catch (error) {
      if (this.#stopped.signal.aborted) return;
      // Keep trying, several times before the TTL runs out; the watchdog declares the loss.
      this.#lastError = error;
      this.#scheduleRenewal(Math.min(1_000, Math.max(50, this.ttlMs / 10)));
    } finally {
      this.#renewing = false;
    }
  }
}

function describeEnd(end: SessionEnd): string {
  switch (end) {
    case 'gone':
      return 'no longer exists on the server (invalidated or destroyed)';
    case 'unreachable':
      return 'could not be renewed before its TTL ran out';
    case 'destroyed':
      return 'was destroyed by this coordinator';
  }
}
