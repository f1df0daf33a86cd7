/** `/v1/kv/:key` — GET, PUT and DELETE as kv.mdx documents them. */
import { blockingQuery, parseBlockingParams } from '../blocking.js';
import {
  HttpError,
  indexFrom,
  MAX_VALUE_BYTES,
  queryMetaHeaders,
  readBody,
  send,
  sendJson,
  sendText,
  uintParam,
} from '../http-kit.js';
import type { KvOperation } from '../kv-verbs.js';
import type { ConsulState } from '../state.js';
import type { RequestContext } from './context.js';
import { entryJson } from './entry-json.js';

export const KV_PREFIX = '/v1/kv/';

const ENCODED_TRAVERSAL = /%2e%2e(?:%2f|%5c|\/)|\.\.%2f|\.\.%5c/i;

/**
 * Newer Consul agents validate KV keys by default (switch: `disable_kv_key_validation`). Literal `..`
 * segments never reach a handler: the router resolves them like Go's ServeMux and redirects. What is
 * left to refuse is an encoded traversal in the raw path (checked by the router before decoding) and
 * a key that starts or ends with whitespace (checked here).
 */
export function hasEncodedTraversal(rawPath: string): boolean {
  return ENCODED_TRAVERSAL.test(rawPath);
}

export async function handleKv(ctx: RequestContext): Promise<void> {
  const key = ctx.path.slice(KV_PREFIX.length);
  if (ctx.options.kvKeyValidation && /^\s|\s$/u.test(key)) {
    throw new HttpError(400, 'key must not start or end with whitespace');
  }
  switch (ctx.req.method) {
    case 'GET':
      return read(ctx, key);
    case 'PUT':
      return write(ctx, key);
    default:
      return remove(ctx, key);
  }
}

/** The index of a prefix listing: newest change under the prefix, else the whole table's. */
function listIndex(state: ConsulState, prefix: string): number {
  return (prefix === '' ? 0 : state.kv.prefixIndex(prefix)) || state.kv.tableIndex;
}

async function read(ctx: RequestContext, key: string): Promise<void> {
  const { query, state, res } = ctx;
  const params = parseBlockingParams(query);

  if (query.has('keys')) {
    // kv.mdx › keys: implies recurse; `separator` (or its old misspelling) stops each key after it.
    const separator = query.get('separator') ?? query.get('seperator') ?? '';
    const answer = await blockingQuery(params, state.changes, ctx.signal, () => ({
      index: listIndex(state, key),
      value: state.kv.list(key),
    }));
    const names: string[] = [];
    for (const entry of answer.value) {
      const at = separator === '' ? -1 : entry.key.indexOf(separator, key.length);
      const name = at === -1 ? entry.key : entry.key.slice(0, at + separator.length);
      if (names[names.length - 1] !== name) names.push(name);
    }
    const headers = queryMetaHeaders(answer.index);
    if (names.length === 0 && key !== '') return send(res, 404, '', 'text/plain', headers);
    return sendJson(res, 200, names, headers);
  }

  if (query.has('recurse')) {
    const answer = await blockingQuery(params, state.changes, ctx.signal, () => ({
      index: listIndex(state, key),
      value: state.kv.list(key),
    }));
    const headers = queryMetaHeaders(answer.index);
    if (answer.value.length === 0) return send(res, 404, '', 'text/plain', headers);
    return sendJson(
      res,
      200,
      answer.value.map((entry) => entryJson(entry)),
      headers,
    );
  }

  if (key === '') throw new HttpError(400, 'Missing key name');
  const answer = await blockingQuery(params, state.changes, ctx.signal, () => {
    const entry = state.kv.get(key);
    // A present key is indexed by its own ModifyIndex; a missing one by the table's last change.
    return { index: entry ? entry.modifyIndex : state.kv.tableIndex, value: entry };
  });
  const headers = queryMetaHeaders(answer.index);
  const entry = answer.value;
  if (!entry) return send(res, 404, '', 'text/plain', headers);
  if (query.has('raw')) {
    return send(res, 200, entry.value, 'text/plain', {
      ...headers,
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': 'sandbox',
    });
  }
  return sendJson(res, 200, [entryJson(entry)], headers);
}

function rejectConflictingFlags(query: URLSearchParams, names: readonly string[]): void {
  const present = names.filter((name) => query.has(name));
  if (present.length > 1) throw new HttpError(400, `Conflicting flags: ${present.join(', ')}`);
}

async function write(ctx: RequestContext, key: string): Promise<void> {
  const { query, state, res } = ctx;
  if (key === '') throw new HttpError(400, 'Missing key name');
  rejectConflictingFlags(query, ['cas', 'acquire', 'release']);
  const flags = uintParam(query, 'flags') ?? 0n;
  const cas = uintParam(query, 'cas');
  const value = await readBody(ctx.req, MAX_VALUE_BYTES);

  let verb = 'set';
  let session = '';
  if (cas !== undefined) verb = 'cas';
  if (query.has('acquire')) {
    verb = 'lock';
    session = query.get('acquire') ?? '';
  }
  if (query.has('release')) {
    verb = 'unlock';
    session = query.get('release') ?? '';
  }

  // Sessions overview › lock-delay: while it runs, acquisition is refused (answered `false`).
  if (verb === 'lock' && state.lockDelays.isActive(key)) return sendJson(res, 200, false);

  const op: KvOperation = { verb, key, value, flags, index: cas === undefined ? 0 : indexFrom(cas), session };
  const [outcome] = state.runKv([op], true);
  if (!outcome || outcome.status === 'invalid') {
    // Consul reports a bad session as a server error, not as `false` (README › Ambiguities).
    return sendText(res, 500, outcome?.message ?? 'operation failed');
  }
  return sendJson(res, 200, verb === 'set' ? true : outcome.status === 'ok');
}

async function remove(ctx: RequestContext, key: string): Promise<void> {
  const { query, state, res } = ctx;
  rejectConflictingFlags(query, ['recurse', 'cas']);
  const cas = uintParam(query, 'cas');
  let verb = 'delete';
  if (query.has('recurse')) verb = 'delete-tree';
  else if (key === '') throw new HttpError(400, 'Missing key name');
  if (cas !== undefined) verb = 'delete-cas';
  const op: KvOperation = {
    verb,
    key,
    value: new Uint8Array(0),
    flags: 0n,
    index: cas === undefined ? 0 : indexFrom(cas),
    session: '',
  };
  const [outcome] = state.runKv([op], true);
  return sendJson(res, 200, verb === 'delete-cas' ? outcome?.status === 'ok' : true);
}
