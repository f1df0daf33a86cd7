/**
 * The KV requests the adapter makes: a transaction (`PUT /v1/txn`, all operations or none) and a
 * single-key read. Round trips are visible at the call sites: one call here is one request.
 * @module
 */
import type { ConsulHttp } from './http.js';
import {
  type KvEntry,
  kvEntry,
  parseConsulJson,
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
    | 'cas';
  readonly key: string;
  readonly value?: string | Buffer;
  readonly flags?: bigint;
  readonly index?: bigint;
  readonly session?: string;
}

/** A committed transaction's entries, or the fact that Consul rolled it back (409). */
export type TxnOutcome =
  | { readonly committed: true; readonly entries: readonly KvEntry[] }
  | { readonly committed: false; readonly errors: readonly string[] };

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
    const parsed = safeParse(reply.text) as { Errors?: Array<{ What?: unknown }> } | undefined;
    const errors = (parsed?.Errors ?? []).map((e) => String(e?.What ?? ''));
    return { committed: false, errors };
  }
  if (reply.status !== 200) throw http.failure(reply, doing);
  const parsed = parseConsulJson(reply.text) as { Results?: Array<{ KV?: unknown }> | null };
  const entries = (parsed.Results ?? []).flatMap((r) => (r?.KV ? [kvEntry(r.KV)] : []));
  return { committed: true, entries };
}

/** Reads one key: its entry, or `undefined` when it does not exist. */
export async function readKey(http: ConsulHttp, key: string, doing: string): Promise<KvEntry | undefined> {
  const reply = await http.send({ method: 'GET', path: kvPath(key), doing });
  if (reply.status === 404) return undefined;
  if (reply.status !== 200) throw http.failure(reply, doing);
  return singleEntry(reply.text);
}

/**
 * Writes `value` with `?cas=index` (0: only if the key is absent). `true` when written, `false`
 * when the index no longer matched (kv.mdx › cas).
 */
export async function casWrite(
  http: ConsulHttp,
  key: string,
  value: string,
  index: bigint,
  doing: string,
): Promise<boolean> {
  const reply = await http.send({
    method: 'PUT',
    path: kvPath(key),
    query: { cas: String(index) },
    body: value,
    doing,
  });
  if (reply.status !== 200) throw http.failure(reply, doing);
  return reply.text.trim() === 'true';
}

/** Writes `value` unconditionally. */
export async function putKey(http: ConsulHttp, key: string, value: string, doing: string): Promise<void> {
  const reply = await http.send({ method: 'PUT', path: kvPath(key), body: value, doing });
  if (reply.status !== 200) throw http.failure(reply, doing);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
