/** `/v1/txn` — KV operations applied atomically, as txn.mdx documents them. */
import { HttpError, indexFrom, MAX_VALUE_BYTES, readBody, sendJson } from '../http-kit.js';
import { isJsonObject, type JsonValue, memberOf, parseJson } from '../json.js';
import { type KvOperation, WRITE_VERBS } from '../kv-verbs.js';
import type { RequestContext } from './context.js';
import { entryJson } from './entry-json.js';

/** txn.mdx › Sample Payload: up to 128 operations per transaction. */
export const MAX_TXN_OPERATIONS = 128;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface TxnError {
  readonly OpIndex: number;
  readonly What: string;
}

function badBody(reason: string): HttpError {
  return new HttpError(400, `Failed to parse body: ${reason}`);
}

function text(kv: { [key: string]: JsonValue }, name: string, at: number): string {
  const value = memberOf(kv, name);
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw badBody(`operation ${at}: ${name} must be a string`);
  return value;
}

function unsigned(kv: { [key: string]: JsonValue }, name: string, at: number): bigint {
  const value = memberOf(kv, name);
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'bigint' && value >= 0n && value <= 0xffff_ffff_ffff_ffffn) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw badBody(`operation ${at}: ${name} must be an unsigned 64-bit integer`);
}

function decodeValue(kv: { [key: string]: JsonValue }, at: number): Uint8Array {
  const encoded = text(kv, 'Value', at);
  // Values travel base64-encoded (txn.mdx › JSON Request Body Schema), with standard padding.
  if (!BASE64.test(encoded)) throw badBody(`operation ${at}: Value is not valid base64`);
  const value = Buffer.from(encoded, 'base64');
  if (value.length > MAX_VALUE_BYTES) {
    throw new HttpError(
      413,
      `Value for key ${JSON.stringify(text(kv, 'Key', at))} is too large (${value.length} > ${MAX_VALUE_BYTES} bytes)`,
    );
  }
  return value;
}

function parseOperation(item: JsonValue, at: number): KvOperation {
  if (!isJsonObject(item)) throw badBody(`operation ${at} is not an object`);
  const kv = memberOf(item, 'KV');
  if (kv === undefined || kv === null) {
    const kind = ['Node', 'Service', 'Check'].find((name) => memberOf(item, name) != null);
    throw new HttpError(
      400,
      kind
        ? `operation ${at} is a ${kind} operation; the lockstep Consul emulator implements only KV operations`
        : `operation ${at} names no operation type`,
    );
  }
  if (!isJsonObject(kv)) throw badBody(`operation ${at}: KV must be an object`);
  return {
    verb: text(kv, 'Verb', at),
    key: text(kv, 'Key', at),
    value: decodeValue(kv, at),
    flags: unsigned(kv, 'Flags', at),
    index: indexFrom(unsigned(kv, 'Index', at)),
    session: text(kv, 'Session', at),
  };
}

async function parseOperations(ctx: RequestContext): Promise<KvOperation[]> {
  const raw = await readBody(ctx.req, MAX_VALUE_BYTES);
  let parsed: JsonValue;
  try {
    parsed = parseJson(raw.toString('utf8'));
  } catch (error) {
    throw badBody((error as Error).message);
  }
  if (!Array.isArray(parsed)) throw badBody('expected a JSON array of operations');
  if (parsed.length > MAX_TXN_OPERATIONS) {
    throw new HttpError(
      413,
      `Transaction contains too many operations (${parsed.length} > ${MAX_TXN_OPERATIONS})`,
    );
  }
  return parsed.map(parseOperation);
}

/**
 * Checks made before anything runs, as Consul does before a transaction enters Raft: every operation
 * but `delete-tree` needs a key, and a `lock` on a key inside its lock-delay fails the transaction.
 */
function preCheck(ctx: RequestContext, operations: readonly KvOperation[]): TxnError[] {
  const errors: TxnError[] = [];
  operations.forEach((op, at) => {
    if (op.key === '' && op.verb !== 'delete-tree')
      errors.push({ OpIndex: at, What: 'operation needs a Key' });
    else if (op.verb === 'lock' && ctx.state.lockDelays.isActive(op.key)) {
      errors.push({
        OpIndex: at,
        What: `key ${JSON.stringify(op.key)} is in its lock-delay; it cannot be locked yet`,
      });
    }
  });
  return errors;
}

export async function handleTxn(ctx: RequestContext): Promise<void> {
  const operations = await parseOperations(ctx);
  const hasWrites = operations.some((op) => WRITE_VERBS.has(op.verb));
  // txn.mdx: a read-only transaction is served like a read and says whether a leader is known.
  const headers: Record<string, string> = hasWrites
    ? {}
    : { 'X-Consul-KnownLeader': 'true', 'X-Consul-LastContact': '0' };

  const refused = preCheck(ctx, operations);
  if (refused.length > 0) return sendJson(ctx.res, 409, { Results: null, Errors: refused }, headers);

  const outcomes = ctx.state.runKv(operations, hasWrites);
  const errors: TxnError[] = [];
  const results: unknown[] = [];
  outcomes.forEach((outcome, at) => {
    if (outcome.status === 'ok') {
      for (const result of outcome.results) results.push({ KV: entryJson(result.entry, result.withValue) });
    } else {
      errors.push({ OpIndex: at, What: outcome.message });
    }
  });
  // txn.mdx › Sample Response: 409 and every failed operation when rolled back, 200 otherwise.
  if (errors.length > 0) return sendJson(ctx.res, 409, { Results: null, Errors: errors }, headers);
  return sendJson(ctx.res, 200, { Results: results, Errors: null }, headers);
}
