/**
 * Counters: one key per counter holding the value as a decimal string. An add is a
 * compare-and-swap on the key's mod revision — `If(mod_revision == seen) Then put Else get` —
 * so a lost race costs one round trip, not two: the failed transaction returns the current
 * value and revision. Bounds are checked against the value the comparison guards.
 *
 * The last state this coordinator saw of each counter is remembered, so an add from a warm
 * coordinator is one round trip; a stale memory only costs the retry. Core coalesces
 * concurrent adds into one backend add, which is what makes 64 callers fast.
 *
 * A failed request whose outcome is unknown (the reply was lost) is reported as
 * `BackendUnavailableError` and never retried blindly: a compare-and-swap retried after it
 * succeeded would add twice.
 * @module
 */
import {
  type AddOutcome,
  type CasState,
  type CounterDriver,
  type CounterRef,
  casAddRemembered,
  parseCounterValue,
} from '@lockstep/core';
import { CompareResult, CompareTarget, type IKeyValue, type ITxnResponse } from 'etcd3';
import { counterKey } from './keys.js';
import type { EtcdRpc } from './rpc.js';

/** A counter's value and the mod revision that value was written at (0: never written). */
type Seen = CasState<bigint>;

/** Counter operations. */
export class EtcdCounters implements CounterDriver {
  readonly #rpc: EtcdRpc;
  readonly #seen = new Map<string, Seen>();

  constructor(rpc: EtcdRpc) {
    this.#rpc = rpc;
  }

  async get(ref: CounterRef): Promise<number> {
    return (await this.#read(counterKey(ref))).value;
  }

  async add(ref: CounterRef, delta: number): Promise<AddOutcome> {
    const key = counterKey(ref);
    const write = (next: number, version: bigint) => this.#swap(key, next, version);
    return casAddRemembered(this.#seen.get(key), () => this.#read(key), write, delta, ref);
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
    this.#seen.set(key, { value, version: BigInt(res.header.revision) });
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
    const res =
      expected === 0
        ? await this.#rpc.txn(
            {
              compare: [
                { key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: '0' },
              ],
              success: [put],
              failure: [{ request_txn: { compare: [valueIs], success: [put], failure: [] } }],
            },
            'counter compare-and-set',
            'unsent-only',
          )
        : await this.#rpc.txn(
            { compare: [valueIs], success: [put], failure: [] },
            'counter compare-and-set',
            'unsent-only',
          );
    const swapped = res.succeeded || res.responses[0]?.response_txn?.succeeded === true;
    if (swapped) this.#seen.set(key, { value: next, version: BigInt(res.header.revision) });
    else this.#seen.delete(key);
    return swapped;
  }

  async #read(key: string): Promise<Seen> {
    const res = await this.#rpc.range({ key: this.#rpc.key(key) }, 'counter get');
    return this.#remember(key, res.kvs[0]);
  }

  /** `If(mod_revision == version) Then put(next) Else get`: `true`, or the state that won. */
  async #swap(key: string, next: number, version: bigint): Promise<true | Seen> {
    const k = this.#rpc.key(key);
    const res: ITxnResponse = await this.#rpc.txn(
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
    if (res.succeeded) {
      this.#seen.set(key, { value: next, version: BigInt(res.header.revision) });
      return true;
    }
    return this.#remember(key, res.responses[0]?.response_range?.kvs[0]);
  }

  #remember(key: string, kv: IKeyValue | undefined): Seen {
    const seen = kv
      ? { value: decode(key, kv.value), version: BigInt(kv.mod_revision) }
      : { value: 0, version: 0n };
    this.#seen.set(key, seen);
    return seen;
  }
}

function encode(value: number): Buffer {
  return Buffer.from(String(value));
}

function decode(key: string, raw: Buffer): number {
  return parseCounterValue('etcd', key, raw.toString());
}
