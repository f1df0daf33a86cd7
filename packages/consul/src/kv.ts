/**
 * The KV requests the adapter makes: a transaction (`PUT /v1/txn`, all operations or none), a
 * single-key read and a plain write. One call here is one request, so round trips can be read at
 * the call sites.
 * @module
 */
import type { ConsulHttp, ConsulReply } from './http.js';
import {
  entryList,
  type KvEntry,
  kvEntry,
  parseConsulJson,
  parseJson,
  singleEntry,
  stringifyConsulJson,
  uint64Literal,
} from './json.js';
import { kvPath } from './keys.js';

/** One KV operation of a transaction (txn.mdx › Tables of Operations › KV Operations). */
export interface TxnOp {
  readonly verb:
    | 'lock'
    | 'unlock'
    | 'get'
    | 'check-index'
    | 'check-session'
    | 'check-not-exists'
    | 'delete'
    | 'delete-cas'
    | 'get-tree'
    | 'cas';
  readonly key: string;
  readonly value?: string;
  readonly flags?: bigint;
  readonly index?: bigint;
  readonly session?: string;
}

/** Why one operation failed. */
export interface TxnError {
  readonly opIndex: number;
  readonly what: string;
}

/** A committed transaction's entries, or the operations that made Consul roll it back (409). */
export type TxnOutcome =
  | { readonly committed: true; readonly entries: readonly KvEntry[] }
  | { readonly committed: false; readonly errors: readonly TxnError[] };

/** Operations per transaction that every agent accepts (older ones take 64, newer ones 128). */
export const TXN_MAX_OPS = 64;

/** Runs `ops` atomically in ONE request. */
export async function transaction(
  http: ConsulHttp,
  ops: readonly TxnOp[],
  doing: string,
): Promise<TxnOutcome> {
  const body = stringifyConsulJson(
    ops.map((op) => ({
      KV: {
        Verb: op.verb,
        Key: op.key,
        Value: op.value === undefined ? undefined : Buffer.from(op.value).toString('base64'),
        Flags: op.flags === undefined ? undefined : uint64Literal(op.flags),
        Index: op.index === undefined ? undefined : uint64Literal(op.index),
        Session: op.session,
      },
    })),
  );
  const reply = await http.send({ method: 'PUT', path: '/v1/txn', body, doing });
  if (reply.status === 409) {
    // txn.mdx: a rolled-back transaction answers 409 with `Errors: [{ OpIndex, What }]`.
    const parsed = parseJson(reply.text) as { Errors?: Array<{ OpIndex?: unknown; What?: unknown }> };
    const errors = (parsed?.Errors ?? []).map((e) => ({
      opIndex: Number(e?.OpIndex),
      what: String(e?.What),
    }));
    return { committed: false, errors };
  }
  if (reply.status !== 200) throw http.failure(reply, doing);
  const parsed = parseConsulJson(reply.text) as { Results?: Array<{ KV?: unknown }> | null };
  return { committed: true, entries: (parsed.Results ?? []).flatMap((r) => (r?.KV ? [kvEntry(r.KV)] : [])) };
}

/** Reads one key: its entry, or `undefined` when it does not exist. */
export async function readKey(http: ConsulHttp, key: string, doing: string): Promise<KvEntry | undefined> {
  const reply = await http.send({ method: 'GET', path: kvPath(key), doing });
  if (reply.status === 404) return undefined;
  if (reply.status !== 200) throw http.failure(reply, doing);
  return singleEntry(reply.text);
}

/** Writes `value` unconditionally. */
export async function putKey(http: ConsulHttp, key: string, value: string, doing: string): Promise<void> {
  const reply = await http.send({ method: 'PUT', path: kvPath(key), body: value, doing });
  if (reply.status !== 200) throw http.failure(reply, doing);
}

/** Every entry under a prefix, and the index of the answer that listed them. */
export interface KvTree {
  readonly entries: readonly KvEntry[];
  readonly index: bigint;
}

/** Lists everything under `<prefix>/` (`GET ?recurse`, one request; the slash keeps `<prefix>x` out). */
export async function readTree(http: ConsulHttp, prefix: string, doing: string): Promise<KvTree> {
  const reply = await http.send({ method: 'GET', path: kvPath(`${prefix}/`), query: { recurse: '' }, doing });
  return treeOf(http, reply, doing);
}

/** A `?recurse` answer as a {@link KvTree}: 404 means nothing is there (Consul answers so). */
export function treeOf(http: ConsulHttp, reply: ConsulReply, doing: string): KvTree {
  const index = reply.index ?? 0n;
  if (reply.status === 404) return { entries: [], index };
  if (reply.status !== 200) throw http.failure(reply, doing);
  return { entries: entryList(reply.text), index };
}
