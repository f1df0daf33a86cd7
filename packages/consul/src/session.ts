/**
 * A Consul session as core's `Session`: kept alive by `PUT /v1/session/renew` (one per period
 * however many locks ride on it), trusted until the last confirmed renewal was sent + TTL, ended by
 * `PUT /v1/session/destroy`. What is Consul's own:
 *
 * - a blocking query on `/v1/session/info` notices at once when someone else destroys the session;
 * - held locks are checked with `check-session` transactions, a bounded number per renewal period,
 *   so a key deleted or taken over by a third party is noticed without a request per lock;
 * - local claims: Consul lets a session acquire a key it already holds (acquire is re-entrant per
 *   session), so two handles of one coordinator are kept apart here, before any request is sent.
 * @module
 */
import { BackendUnavailableError, InvalidArgumentError } from '@lockstep/core';
import { Session, type SessionMember, type SessionStrategy } from '@lockstep/core/driver';
import { follow } from './blocking.js';
import type { ConsulHttp, ConsulReply } from './http.js';
import { parseJson } from './json.js';
import { TXN_MAX_OPS, transaction } from './kv.js';
import { SESSION_TTL_MAX_MS } from './options.js';

/** A held lock as its session sees it. */
export interface SessionLock extends SessionMember {
  readonly key: string;
}

/** What a session is created with. */
export interface SessionSpec {
  readonly ttlMs: number;
  readonly lockDelayMs: number;
  /** Shown in Consul's UI and `/v1/session/list`. */
  readonly name: string;
}

/** The blocking query on the session starts this long after a lock is held: short holds never pay for it. */
const WATCH_DELAY_MS = 250;
/** At most this many `check-session` transactions per renewal period. */
const CHECKS_PER_PERIOD = 4;
const ENDED = new Error('the session ended');

/**
 * Refuses a lease no Consul session can have (before any request): sessions live at most a day.
 * @throws InvalidArgumentError
 */
export function assertSessionTtl(ttlMs: number): void {
  if (ttlMs > SESSION_TTL_MAX_MS) {
    throw new InvalidArgumentError('ttlMs', `Consul session TTLs are at most ${SESSION_TTL_MAX_MS} ms`);
  }
}

/** Creates a session; resolves once Consul answered with its ID. */
export async function createSession(http: ConsulHttp, spec: SessionSpec): Promise<ConsulSession> {
  const sentAt = performance.now();
  const doing = 'creating a session';
  // Behavior `delete`: an invalidated session's keys are deleted, not merely unlocked, so a crashed
  // holder leaves nothing behind (our release deletes the key too).
  const TTL = `${Math.ceil(spec.ttlMs / 1000)}s`;
  const body = JSON.stringify({
    Name: spec.name,
    TTL,
    Behavior: 'delete',
    LockDelay: `${spec.lockDelayMs}ms`,
  });
  const reply = await http.send({ method: 'PUT', path: '/v1/session/create', body, doing });
  if (reply.status !== 200) throw http.failure(reply, doing);
  const id = (parseJson(reply.text) as { ID?: unknown } | undefined)?.ID;
  if (typeof id !== 'string' || id === '') {
    throw new BackendUnavailableError('consul', `${doing}: no session ID in ${reply.text.slice(0, 200)}`);
  }
  return new ConsulSession(http, id, spec.ttlMs, sentAt);
}

/** A live Consul session (see the module comment). */
export class ConsulSession extends Session<SessionLock> {
  readonly id: string;
  readonly #http: ConsulHttp;
  readonly #claims = new Map<string, symbol>();
  /** The blocking query on the session, while it holds locks. */
  #watch: AbortController | undefined;
  #watchTimer: NodeJS.Timeout | undefined;
  /** Locks held on the session (its members, counted: the watch runs while there are any). */
  #held = 0;
  /** Where the next round of checks starts among the held locks. */
  #checkFrom = 0;
  #checking = false;

  constructor(http: ConsulHttp, id: string, ttlMs: number, createdAt: number) {
    const strategy = sessionStrategy(http, id);
    const describe = `Consul session ${id}`;
    super(strategy, { ttlMs, confirmedAt: createdAt, keepAliveTimeoutMs: http.requestTimeoutMs, describe });
    strategy.verify = (locks) => this.#check(locks);
    this.id = id;
    this.#http = http;
    this.lost.addEventListener('abort', () => this.#ended());
  }

  /**
   * Claims `key` for one local grant. `undefined` when another handle of this coordinator holds it
   * (or is acquiring it) with this session: then the lock is taken, no request needed.
   */
  claim(key: string): symbol | undefined {
    if (this.#claims.has(key)) return undefined;
    const claim = Symbol(key);
    this.#claims.set(key, claim);
    this.retain();
    return claim;
  }

  /** Whether `claim` is still the claim on `key`. */
  owns(key: string, claim: symbol): boolean {
    return this.#claims.get(key) === claim;
  }

  /** Drops `claim` (no-op when it is no longer the claim on `key`). */
  unclaim(key: string, claim: symbol): void {
    if (this.#claims.get(key) !== claim) return;
    this.#claims.delete(key);
    this.unretain();
  }

  /** `lock` is held on this session: it is told of the session's loss, and watched with it. */
  hold(lock: SessionLock): void {
    this.join(lock);
    if (++this.#held > 1 || !this.live) return;
    this.#watchTimer = setTimeout(() => this.#follow(), WATCH_DELAY_MS);
    this.#watchTimer.unref();
  }

  /** `lock` is no longer held (released or lost). */
  drop(lock: SessionLock): void {
    this.leave(lock);
    if (--this.#held === 0) this.#unwatch();
  }

  /** Whether Consul still knows the session (asked when an acquire was refused on a free key). */
  async existsOnServer(): Promise<boolean> {
    const doing = 'reading a session';
    const reply = await this.#http.send({ method: 'GET', path: `/v1/session/info/${this.id}`, doing });
    return listsSession(this.#http, reply, doing);
  }

  /** Destroys the session (Consul starts the lock-delay of keys it still holds: release them first). */
  override async close(): Promise<void> {
    this.#ended();
    await super.close();
  }

  #ended(): void {
    this.#unwatch();
    this.#claims.clear();
  }

  #unwatch(): void {
    clearTimeout(this.#watchTimer);
    this.#watch?.abort(ENDED);
    this.#watch = undefined;
  }

  /** An in-flight query keeps the process alive, so it runs only while locks are held. */
  #follow(): void {
    if (!this.live || this.#watch || this.#held === 0) return;
    this.#watch = new AbortController();
    const doing = 'watching the session';
    void follow(this.#http, {
      path: `/v1/session/info/${this.id}`,
      waitMs: 60_000,
      signal: this.#watch.signal,
      read: (reply) => {
        const exists = listsSession(this.#http, reply, doing);
        return { state: exists, signature: String(exists), tableIndexed: true };
      },
      onState: (exists) => {
        if (!exists) this.markLost('it was destroyed or invalidated on the server');
      },
    });
  }

  /**
   * Which of `locks` the server no longer has on this session: at most {@link CHECKS_PER_PERIOD}
   * transactions, each round resuming where the last stopped, so a period costs the same however
   * many locks are held (each is checked every ⌈n / 256⌉ periods).
   */
  async #check(locks: ReadonlySet<SessionLock>): Promise<SessionLock[]> {
    if (this.#checking) return [];
    this.#checking = true;
    const all = [...locks];
    const from = this.#checkFrom < all.length ? this.#checkFrom : 0;
    const round = all.slice(from, from + TXN_MAX_OPS * CHECKS_PER_PERIOD);
    this.#checkFrom = from + round.length;
    const gone: SessionLock[] = [];
    try {
      for (let at = 0; at < round.length; at += TXN_MAX_OPS) {
        const batch = round.slice(at, at + TXN_MAX_OPS);
        const ops = batch.map(({ key }) => ({ verb: 'check-session' as const, key, session: this.id }));
        const outcome = await transaction(this.#http, ops, 'checking held locks');
        for (const { opIndex } of outcome.committed ? [] : outcome.errors) {
          if (batch[opIndex]) gone.push(batch[opIndex]);
        }
      }
      return gone;
    } finally {
      this.#checking = false;
    }
  }
}

function sessionStrategy(http: ConsulHttp, id: string): SessionStrategy<SessionLock> {
  const put = (verb: string, doing: string, timeoutMs: number) =>
    http.send({ method: 'PUT', path: `/v1/session/${verb}/${id}`, doing, timeoutMs });
  return {
    keepAlive: async (timeoutMs) => {
      const reply = await put('renew', 'renewing the session', timeoutMs);
      if (reply.status !== 200 && reply.status !== 404) throw http.failure(reply, 'renewing the session');
      return reply.status === 200;
    },
    end: async () => {
      await put('destroy', 'destroying a session', Math.min(http.requestTimeoutMs, 2_000));
    },
  };
}

/** Whether a `/v1/session/info` answer lists the session (`[]` when Consul does not know it). */
function listsSession(http: ConsulHttp, reply: ConsulReply, doing: string): boolean {
  const parsed = reply.status === 200 ? parseJson(reply.text) : undefined;
  if (!Array.isArray(parsed)) throw http.failure(reply, doing);
  return parsed.length > 0;
}
