/**
 * Counters: one key per counter holding the value as a decimal string. An add is a
 * compare-and-swap on the key's mod revision — `If(mod_revision == seen) Then put Else get` —
 * so a lost race costs one round trip, not two: the failed transaction returns the current
 * value and revision. Bounds are checked against the value the comparison guards.
 *
 * The last state this coordinator saw of each counter is remembered (the least recently used
 * forgotten past core's bound), so an add from a warm coordinator is one round trip; a stale
 * memory only costs the retry. Core coalesces concurrent adds into one backend add.
 *
 * A failed request whose outcome is unknown (the reply was lost) is reported as
 * `BackendUnavailableError` and never retried blindly: a compare-and-swap retried after it
 * succeeded would add twice.
 * @module
 */
import {
  type AddOutcome,
  type CasCounterOps,
  type CasState,
  type CounterDriver,
  type CounterRef,
  parseCounterValue,
  RememberedCounters,
} from '@lockstep/core/driver';
import { CompareResult, CompareTarget, type IKeyValue } from 'etcd3';
import { counterKey } from './keys.js';
import type { EtcdRpc } from './rpc.js';

/** A counter's value and the mod revision that value was written at (0: never written). */
type Seen = CasState<bigint>;

/** Counter operations. */
export class EtcdCounters implements CounterDriver {
  readonly #rpc: EtcdRpc;
  readonly #memory = new RememberedCounters<bigint>();

  constructor(rpc: EtcdRpc) {
    this.#rpc = rpc;
  }

  async get(ref: CounterRef): Promise<number> {
    const key = counterKey(ref);
    return this.#memory.remember(key, await this.#read(key)).value;
  }

  add(ref: CounterRef, delta: number): Promise<AddOutcome> {
    const key = counterKey(ref);
    return this.#memory.add(key, this.#ops(key), delta, ref);
  }

  async set(ref: CounterRef, value: number): Promise<void> {
    const key = counterKey(ref);
    const res = await this.#rpc.txn(
      {
        compare: [],
        success: [{ request_put: { key: this.#rpc.key(key), value: encode(value) } }],
        failure: [],
      },
      'counter set',
      'unsent-only',
    );
    this.#memory.remember(key, { value, version: BigInt(res.header.revision) });
  }

  async compareAndSet(ref: CounterRef, expected: number, next: number): Promise<boolean> {
    const key = counterKey(ref);
    const k = this.#rpc.key(key);
    const put = { request_put: { key: k, value: encode(next) } };
    const valueIs = {
      key: k,
      target: CompareTarget.Value,
      result: CompareResult.Equal,
      value: encode(expected),
    };
    // A never-written counter counts as 0, but a value comparison on an absent key always
    // fails: for 0, "absent" and "holds 0" are two branches of one transaction (nested).
    const res = await this.#rpc.txn(
      expected === 0
        ? {
            compare: [
              { key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: '0' },
            ],
            success: [put],
            failure: [{ request_txn: { compare: [valueIs], success: [put], failure: [] } }],
          }
        : { compare: [valueIs], success: [put], failure: [] },
      'counter compare-and-set',
      'unsent-only',
    );
    const swapped = res.succeeded || res.responses[0]?.response_txn?.succeeded === true;
    if (swapped) this.#memory.remember(key, { value: next, version: BigInt(res.header.revision) });
    else this.#memory.forget(key);
    return swapped;
  }

  async #read(key: string): Promise<Seen> {
    const res = await this.#rpc.range({ key: this.#rpc.key(key) }, 'counter get');
    return decode(key, res.kvs[0]);
  }

  /** An add's read, and its write: `If(mod_revision == version) Then put(next) Else get`. */
  #ops(key: string): CasCounterOps<bigint> {
    const k = this.#rpc.key(key);
    return {
      read: () => this.#read(key),
      write: async (next, version) => {
        const res = await this.#rpc.txn(
          {
            compare: [
              {
                key: k,
                target: CompareTarget.Mod,
                result: CompareResult.Equal,
                mod_revision: version.toString(),
              },
            ],
            success: [{ request_put: { key: k, value: encode(next) } }],
            failure: [{ request_range: { key: k } }],
          },
          'counter add',
          'unsent-only',
        );
        if (res.succeeded)
          return { written: true, state: { value: next, version: BigInt(res.header.revision) } };
        return { written: false, state: decode(key, res.responses[0]?.response_range?.kvs[0]) };
      },
    };
  }
}

function encode(value: number): Buffer {
  return Buffer.from(String(value));
}

function decode(key: string, kv: IKeyValue | undefined): Seen {
  if (!kv) return { value: 0, version: 0n };
  return { value: parseCounterValue('etcd', key, kv.value.toString()), version: BigInt(kv.mod_revision) };
}
