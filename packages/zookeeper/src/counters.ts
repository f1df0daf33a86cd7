/**
 * Counters: one znode per counter holding the value as a decimal string, changed only by a
 * compare-and-swap on the node's `version` (`setData(path, next, version)`), created on first
 * write. Bounds are checked against the value the CAS guards, so a violating add writes
 * nothing. Core coalesces concurrent adds from one coordinator into one CAS.
 *
 * Reads are made linearizable: a ZooKeeper read is served by the server the client is
 * connected to and may lag the leader, so a value that decides an answer without a write
 * (`get`, a refused CAS, a bound violation) is confirmed by a `multi(check version)` — a
 * write-path no-op that succeeds only if the node is still at that version. The last write's
 * result is remembered, so a coordinator that is the counter's only writer pays one round
 * trip per add.
 * @module
 */
import { type AddOutcome, applyDelta, type CounterDriver, type CounterRef } from '@lockstep/core';
import { ensurePath } from './contender.js';
import { Code, hasCode, unavailable, ZkError } from './errors.js';
import { counterPath } from './paths.js';
import { CreateMode, type RawTransaction } from './raw.js';
import type { ZkSession } from './session.js';
import type { SessionSource } from './source.js';

/** A counter as read: its value and the version a CAS must name (`null`: no node yet). */
interface Seen {
  readonly value: number;
  readonly version: number | null;
}

/** Counter operations over one coordinator's session. */
export class ZkCounters implements CounterDriver {
  readonly #source: SessionSource;
  readonly #base: string;
  /** Last value this coordinator wrote or confirmed, per node: a likely-current CAS guess. */
  readonly #cache = new Map<string, Seen>();

  constructor(source: SessionSource, base: string) {
    this.#source = source;
    this.#base = base;
  }

  async get(counter: CounterRef): Promise<number> {
    const path = counterPath(this.#base, counter);
    return this.#guard('get', async (session) => {
      for (;;) {
        const seen = await read(session, path);
        if (await confirm(session, path, seen)) return seen.value;
      }
    });
  }

  async add(counter: CounterRef, delta: number): Promise<AddOutcome> {
    const path = counterPath(this.#base, counter);
    return this.#guard('add', async (session) => {
      let seen = this.#cache.get(path) ?? (await read(session, path));
      for (;;) {
        const outcome = applyDelta(seen.value, delta, counter);
        if (!outcome.ok) {
          // Refusing writes nothing, so the value it is based on must be proven current.
          if (await confirm(session, path, seen)) return outcome;
        } else {
          const written = await this.#swap(session, path, seen, outcome.value);
          if (written) return outcome;
        }
        seen = await read(session, path);
      }
    });
  }

  async set(counter: CounterRef, value: number): Promise<void> {
    const path = counterPath(this.#base, counter);
    await this.#guard('set', async (session) => {
      for (;;) {
        try {
          const stat = await session.setData(path, encode(value), -1);
          this.#cache.set(path, { value, version: stat.version });
          return;
        } catch (error) {
          if (!hasCode(error, Code.NO_NODE)) throw error;
        }
        if (await this.#swap(session, path, { value: 0, version: null }, value)) return;
      }
    });
  }

  async compareAndSet(counter: CounterRef, expected: number, next: number): Promise<boolean> {
    const path = counterPath(this.#base, counter);
    return this.#guard('compareAndSet', async (session) => {
      let seen = this.#cache.get(path) ?? (await read(session, path));
      for (;;) {
        if (seen.value !== expected) {
          if (await confirm(session, path, seen)) return false;
        } else if (await this.#swap(session, path, seen, next)) {
          return true;
        }
        seen = await read(session, path);
      }
    });
  }

  /** Writes `next` if the node is still as `seen`; `false` when someone changed it first. */
  async #swap(session: ZkSession, path: string, seen: Seen, next: number): Promise<boolean> {
    try {
      if (seen.version === null) {
        await createCounter(session, path, next);
        this.#cache.set(path, { value: next, version: 0 });
      } else {
        const stat = await session.setData(path, encode(next), seen.version);
        this.#cache.set(path, { value: next, version: stat.version });
      }
      return true;
    } catch (error) {
      if (
        hasCode(error, Code.BAD_VERSION) ||
        hasCode(error, Code.NO_NODE) ||
        hasCode(error, Code.NODE_EXISTS)
      ) {
        this.#cache.delete(path);
        return false;
      }
      throw error;
    }
  }

  async #guard<T>(what: string, run: (session: ZkSession) => Promise<T>): Promise<T> {
    const session = await this.#source.ready();
    try {
      return await run(session);
    } catch (error) {
      throw unavailable(`counter ${what}`, error);
    }
  }
}

/** The counter's value and version; 0 and `null` when the node does not exist. */
async function read(session: ZkSession, path: string): Promise<Seen> {
  try {
    const { data, stat } = await session.getData(path);
    return { value: decode(data, path), version: stat.version };
  } catch (error) {
    if (hasCode(error, Code.NO_NODE)) return { value: 0, version: null };
    throw error;
  }
}

/** Whether the node is still exactly as `seen` (a linearizable check through the leader). */
async function confirm(session: ZkSession, path: string, seen: Seen): Promise<boolean> {
  try {
    await session.multi(`confirm ${path}`, (tx) => checkVersion(tx, path, seen.version ?? 0));
    return seen.version !== null;
  } catch (error) {
    // NO_NODE: absent, which is what `seen` says when it has no version.
    if (hasCode(error, Code.NO_NODE)) return seen.version === null;
    if (hasCode(error, Code.BAD_VERSION)) return false;
    throw error;
  }
}

/**
 * `tx.check(path, version)`, except that node-zookeeper-client 1.1 turns version 0 into -1
 * ("any version") with `version || -1`; a counter at version 0 must really be checked.
 */
function checkVersion(tx: RawTransaction, path: string, version: number): void {
  tx.check(path, version);
  const op = tx.ops?.[tx.ops.length - 1];
  if (op) op.version = version;
}

async function createCounter(session: ZkSession, path: string, value: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await session.create(path, encode(value), CreateMode.PERSISTENT);
      return;
    } catch (error) {
      if (!hasCode(error, Code.NO_NODE) || attempt >= 2) throw error;
      await ensurePath(session, path.slice(0, path.lastIndexOf('/')));
    }
  }
}

function encode(value: number): Buffer {
  return Buffer.from(String(value));
}

function decode(data: Buffer, path: string): number {
  const text = data.toString();
  const value = text === '' ? 0 : Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new ZkError(Number.NaN, `${path} holds ${JSON.stringify(text.slice(0, 40))}, not a counter value`);
  }
  return value;
}
