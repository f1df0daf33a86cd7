/** `/v1/session/*` — create, destroy, renew, info and list, as session.mdx documents them. */
import { blockingQuery, parseBlockingParams } from '../blocking.js';
import { parseGoDuration } from '../duration.js';
import { HttpError, MAX_VALUE_BYTES, queryMetaHeaders, readBody, sendJson, sendText } from '../http-kit.js';
import { isJsonObject, type JsonValue, memberOf, parseJson } from '../json.js';
import type { SessionBehavior, SessionRecord, SessionSpec } from '../sessions.js';
import type { RequestContext } from './context.js';

/** The node name the emulator answers to (sessions default to the agent's node). */
export const EMULATOR_NODE = 'lockstep-consul-emulator';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** session.mdx › Create Session › LockDelay defaults to 15s. */
const DEFAULT_LOCK_DELAY_NS = 15e9;

/**
 * Consul reads a bare number, or a duration below 1000 ns, as seconds: clients often send `15`
 * meaning 15 s (the agent's lock-delay fix-up). Everything else is a Go duration.
 */
const SECONDS_THRESHOLD_NS = 1000;

export function sessionJson(session: SessionRecord): Record<string, unknown> {
  return {
    ID: session.id,
    Name: session.name,
    Node: session.node,
    LockDelay: session.lockDelayNs,
    Behavior: session.behavior,
    TTL: session.ttl,
    NodeChecks: session.nodeChecks,
    ServiceChecks: session.serviceChecks ?? null,
    CreateIndex: session.createIndex,
    ModifyIndex: session.modifyIndex,
  };
}

function decodeFailure(reason: string): HttpError {
  return new HttpError(400, `Request decode failed: ${reason}`);
}

function optionalString(body: { [key: string]: JsonValue }, name: string): string | undefined {
  const value = memberOf(body, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw decodeFailure(`${name} must be a string`);
  return value;
}

function stringList(body: { [key: string]: JsonValue }, name: string): string[] | undefined {
  const value = memberOf(body, name);
  if (value === undefined) return undefined;
  if (value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw decodeFailure(`${name} must be an array of strings`);
  }
  return value as string[];
}

function parseLockDelay(body: { [key: string]: JsonValue }): number {
  const value = memberOf(body, 'LockDelay');
  if (value === undefined || value === null) return DEFAULT_LOCK_DELAY_NS;
  let nanos: number | undefined;
  if (typeof value === 'string') nanos = parseGoDuration(value);
  else if (typeof value === 'number' || typeof value === 'bigint') nanos = Number(value);
  if (nanos === undefined || !Number.isFinite(nanos))
    throw decodeFailure('LockDelay must be a duration such as "15s"');
  // session.mdx says the lock-delay must be greater than 0, the Sessions overview says 0 disables it;
  // 0 is accepted, negative values are refused (README › Ambiguities).
  if (nanos < 0) throw new HttpError(400, 'LockDelay must not be negative');
  return nanos < SECONDS_THRESHOLD_NS ? nanos * 1e9 : nanos;
}

function parseBehavior(body: { [key: string]: JsonValue }): SessionBehavior {
  const behavior = optionalString(body, 'Behavior') ?? '';
  if (behavior === '' || behavior === 'release') return 'release';
  if (behavior === 'delete') return 'delete';
  throw new HttpError(
    400,
    `Invalid Behavior setting ${JSON.stringify(behavior)}: must be "release" or "delete"`,
  );
}

function parseTtl(ctx: RequestContext, body: { [key: string]: JsonValue }): { ttl: string; ttlMs: number } {
  const ttl = optionalString(body, 'TTL') ?? '';
  if (ttl === '') return { ttl, ttlMs: 0 };
  const nanos = parseGoDuration(ttl);
  if (nanos === undefined)
    throw new HttpError(400, `Session TTL ${JSON.stringify(ttl)} is not a valid duration`);
  const ttlMs = nanos / 1e6;
  const { sessionTtlMinMs, sessionTtlMaxMs } = ctx.options;
  // session.mdx › Create Session › TTL: between 10s (the agent's session_ttl_min) and 86400s; 0 means none.
  if (ttlMs !== 0 && (ttlMs < sessionTtlMinMs || ttlMs > sessionTtlMaxMs)) {
    throw new HttpError(
      400,
      `Invalid Session TTL ${JSON.stringify(ttl)}: must be between ${sessionTtlMinMs / 1000}s and ${sessionTtlMaxMs / 1000}s`,
    );
  }
  return { ttl, ttlMs };
}

async function parseSpec(ctx: RequestContext): Promise<SessionSpec> {
  const raw = await readBody(ctx.req, MAX_VALUE_BYTES);
  let body: { [key: string]: JsonValue } = {};
  if (raw.length > 0) {
    let parsed: JsonValue;
    try {
      parsed = parseJson(raw.toString('utf8'));
    } catch (error) {
      throw decodeFailure((error as Error).message);
    }
    if (!isJsonObject(parsed)) throw decodeFailure('expected a JSON object');
    body = parsed;
  }
  const { ttl, ttlMs } = parseTtl(ctx, body);
  // Health checks are accepted but never fail here: the emulated node is always healthy, so only
  // destroy and TTL expiry invalidate a session (README › Not emulated).
  const nodeChecks = stringList(body, 'NodeChecks') ?? stringList(body, 'Checks') ?? ['serfHealth'];
  return {
    name: optionalString(body, 'Name') ?? '',
    node: optionalString(body, 'Node') || EMULATOR_NODE,
    lockDelayNs: parseLockDelay(body),
    behavior: parseBehavior(body),
    ttl,
    ttlMs,
    nodeChecks,
    serviceChecks: memberOf(body, 'ServiceChecks') ?? null,
  };
}

/** The session ID from the path; a malformed one is a server-side lookup error in Consul (500). */
function sessionIdFrom(path: string, prefix: string): string {
  const id = path.slice(prefix.length);
  if (id === '') throw new HttpError(400, 'Missing session');
  if (!UUID.test(id)) throw new HttpError(500, `failed session lookup: ${JSON.stringify(id)} is not a UUID`);
  return id;
}

export async function handleSession(ctx: RequestContext): Promise<void> {
  const { path, state, res } = ctx;

  if (path === '/v1/session/create') {
    const session = state.createSession(await parseSpec(ctx));
    return sendJson(res, 200, { ID: session.id });
  }

  if (path.startsWith('/v1/session/destroy/')) {
    // session.mdx › Delete Session: idempotent, `true` even for an unknown or expired session.
    state.destroySession(sessionIdFrom(path, '/v1/session/destroy/'));
    return sendJson(res, 200, true);
  }

  if (path.startsWith('/v1/session/renew/')) {
    const id = sessionIdFrom(path, '/v1/session/renew/');
    const session = state.sessions.renew(id);
    if (!session) return sendText(res, 404, `Session id '${id}' not found`);
    return sendJson(res, 200, [sessionJson(session)]);
  }

  const params = parseBlockingParams(ctx.query);
  if (path.startsWith('/v1/session/info/')) {
    const id = sessionIdFrom(path, '/v1/session/info/');
    const answer = await blockingQuery(params, state.changes, ctx.signal, () => ({
      index: state.sessions.tableIndex,
      value: state.sessions.get(id),
    }));
    // session.mdx › Read Session: an unknown session is an empty list, not a 404.
    const body = answer.value ? [sessionJson(answer.value)] : [];
    return sendJson(res, 200, body, queryMetaHeaders(answer.index));
  }

  // /v1/session/list
  const answer = await blockingQuery(params, state.changes, ctx.signal, () => ({
    index: state.sessions.tableIndex,
    value: state.sessions.list(),
  }));
  return sendJson(res, 200, answer.value.map(sessionJson), queryMetaHeaders(answer.index));
}
