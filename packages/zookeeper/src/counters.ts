/**
 * Counters: one znode per counter holding the value as a decimal string, changed only by a
 * compare-and-swap on the node's `version` (`setData(path, next, version)`), created on first
 * write. Bounds are checked against the value the CAS guards, so a violating add writes
 * nothing. Core coalesces concurrent adds from one coordinator into one CAS, and remembers the
 * last state written or read (a bounded memory), so a coordinator that is the counter's only
 * writer pays one round trip per add.
 *
 * Reads are made linearizable: a ZooKeeper read is served by the server the client is
 * connected to and may lag the leader, so a value that decides an answer without a write
 * (`get`, a refused CAS, a bound violation) is confirmed by a `multi(check version)` — a
 * write-path no-op that succeeds only if the node is still at that version.
 * @module
 */
import {
  type AddOutcome,
  type CasCounterOps,
  type CasState,
  type CounterDriver,
  type CounterRef,
  mapFailures,
  parseCounterValue,
  RememberedCounters,
} from '@lockstep/core/driver';
import { ensurePath } from './contender.js';
import { Code, hasCode } from './errors.js';
import { counterPath } from './paths.js';
import { CreateMode, type RawTransaction } from './raw.js';
import type { ZkSession } from './session.js';
import type { SessionSource } from './source.js';

/** The node's version a CAS must name; `null` while there is no node. */
type Version = number | null;
type Seen = CasState<Version>;

/** Counter operations over one coordinator's session. */
export class ZkCounters implements CounterDriver {
  readonly #source: SessionSource;
  readonly #base: string;
  readonly #memory = new RememberedCounters<Version>();

  constructor(source: SessionSource, base: string) {
    this.#source = source;
    this.#base = base;
  }

  get(counter: CounterRef): Promise<number> {
    return this.#run('get', counter, async (session, path) => {
      for (;;) {
        const seen = await read(session, path);
        if (await confirm(session, path, seen)) return seen.value;
      }
    });
  }

  add(counter: CounterRef, delta: number): Promise<AddOutcome> {
    return this.#run('add', counter, async (session, path) => {
      for (;;) {
        const outcome = await this.#memory.add(path, this.#ops(session, path), delta, counter);
        if (outcome.ok) return outcome;
        // Refusing writes nothing, so the state it was judged on (the last one read) must be current.
        const judged = this.#memory.get(path);
        if (judged && (await confirm(session, path, judged))) return outcome;
        this.#memory.forget(path);
      }
    });
  }

  set(counter: CounterRef, value: number): Promise<void> {
    return this.#run('set', counter, async (session, path) => {
      for (;;) {
        try {
          const stat = await session.setData(path, encode(value), -1);
          return void this.#memory.remember(path, { value, version: stat.version });
        } catch (error) {
          if (!hasCode(error, Code.NO_NODE)) throw error;
        }
        if ((await this.#ops(session, path).write(value, null)).written) return;
      }
    });
  }

  compareAndSet(counter: CounterRef, expected: number, next: number): Promise<boolean> {
    return this.#run('compareAndSet', counter, async (session, path) => {
      const ops = this.#ops(session, path);
      let seen = this.#memory.get(path) ?? (await ops.read());
      for (;;) {
        if (seen.value !== expected) {
          if (await confirm(session, path, seen)) return false;
        } else if ((await ops.write(next, seen.version)).written) {
          return true;
        }
        seen = await ops.read();
      }
    });
  }

  #run<T>(
    what: string,
    counter: CounterRef,
    op: (session: ZkSession, path: string) => Promise<T>,
  ): Promise<T> {
    const path = counterPath(this.#base, counter);
    return mapFailures('zookeeper', `counter ${what}`, async () => op(await this.#source.ready(), path));
  }

  /** The versioned read and the guarded write of the counter at `path`, remembering what they see. */
  #ops(session: ZkSession, path: string): CasCounterOps<Version> {
    const memory = this.#memory;
    return {
      read: async () => memory.remember(path, await read(session, path)),
      async write(next, version) {
        try {
          const written =
            version === null
              ? await createCounter(session, path, next)
              : (await session.setData(path, encode(next), version)).version;
          return { written: true, state: memory.remember(path, { value: next, version: written }) };
        } catch (error) {
          if (![Code.BAD_VERSION, Code.NO_NODE, Code.NODE_EXISTS].some((code) => hasCode(error, code)))
            throw error;
          memory.forget(path);
          return { written: false };
        }
      },
    };
  }
}

/** The counter's value and version; 0 and `null` when the node does not exist. */
async function read(session: ZkSession, path: string): Promise<Seen> {
  try {
    const { data, stat } = await session.getData(path);
    const text = data.toString();
    return { value: text === '' ? 0 : parseCounterValue('zookeeper', path, text), version: stat.version };
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

/** Creates the counter's node holding `value` (and its parents when missing); its version is 0. */
async function createCounter(session: ZkSession, path: string, value: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      await session.create(path, encode(value), CreateMode.PERSISTENT);
      return 0;
    } catch (error) {
      if (!hasCode(error, Code.NO_NODE) || attempt >= 2) throw error;
      await ensurePath(session, path.slice(0, path.lastIndexOf('/')));
    }
  }
}

function encode(value: number): Buffer {
  return Buffer.from(String(value));
}
