/**
 * The Lua scripts, and how they are run: by SHA (EVALSHA), with one transparent EVAL when
 * the server answers NOSCRIPT (first use, or a script cache flushed by a restart or
 * `SCRIPT FLUSH`). Each script is one round trip and atomic on the server.
 * @module
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script with its SHA1, run against any client. */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script with `keys` as KEYS and `args` as ARGV. */
  run(client: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    // Plain promise chaining, not async/await: this is on every lock operation's hot path.
    return client.evalsha(this.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    });
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Lua that sets `now` to the server clock in ms (every lease is measured on the server's clock). */
export const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Lua that sets `token` to the next fencing token of the counter at `fence` (a KEYS entry):
 * INCR, and when the counter did not exist the server clock in µs instead of 1 (see
 * {@link ACQUIRE_FENCED}). Part of a grant's script, so the token is issued in the grant's
 * atomic step.
 */
export function nextToken(fence: string): string {
  return `local token = redis.call('INCR', ${fence})
if token == 1 then
  local t = redis.call('TIME')
  token = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', ${fence}, string.format('%d', token))
end`;
}

/**
 * Fenced acquire (single instance). KEYS: lock, fence, waiters. ARGV: owner, ttl ms,
 * coordinator id, waiter-registration ttl ms (`0`: no handoff, plain `SET NX`, as for
 * native keys). Returns `{1, token}`, or `{0, pttl}` of the current holder.
 *
 * Handoff: the lock is free when absent, or when it holds `handoff:<id>` — a release's
 * reservation for waiters of OTHER coordinators than `<id>`, the releasing one (see
 * {@link RELEASE}). A refused attempt registers this coordinator as waiting (field of the
 * waiters hash = its expiry instant), so the next release knows to hand the lock over.
 *
 * The token is the per-name counter INCR'd in the same atomic step as the SET, so tokens
 * strictly increase across grants. When the counter did not exist — the name's first grant,
 * or a restart that lost the data (no persistence) — it starts from the server clock in µs
 * instead of 1, so tokens issued after such a restart are still larger than every token
 * issued before it, as long as the server clock did not step back. µs since 1970 stay below
 * 2^53 until the year 2255, so the value is exact in Lua's doubles and in JavaScript.
 * Needs Redis 5 or newer (scripts replicated by effects, so TIME may precede a write).
 */
export const ACQUIRE_FENCED = new LuaScript(`
local free = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
if not free and ARGV[4] ~= '0' then
  local v = redis.call('GET', KEYS[1])
  if string.sub(v, 1, 8) == 'handoff:' and v ~= 'handoff:' .. ARGV[3] then
    free = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  else
    local t = redis.call('TIME')
    local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[4])
    redis.call('HSET', KEYS[3], ARGV[3], string.format('%d', expires))
    redis.call('PEXPIRE', KEYS[3], ARGV[4])
  end
end
if not free then
  return {0, redis.call('PTTL', KEYS[1])}
end
${nextToken('KEYS[2]')}
return {1, token}
`);

/**
 * Unfenced acquire (Redlock instances). KEYS: lock. ARGV: owner, ttl ms.
 * Returns `{1}` or `{0, pttl}` of the current holder.
 */
export const ACQUIRE_PLAIN = new LuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
return {0, redis.call('PTTL', KEYS[1])}
`);

/**
 * Compare-then-extend, for any number of locks. KEYS: lock 1 … lock n. ARGV: owner 1, ttl ms 1,
 * … owner n, ttl ms n. Returns one 1 (it was ours, and is extended) or 0 per key, in order.
 */
export const EXTEND_MANY = new LuaScript(`
local ours = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2 * i - 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
    ours[i] = 1
  else
    ours[i] = 0
  end
end
return ours
`);

/**
 * Compare-then-release, and announce it to waiters. KEYS: lock, waiters. ARGV: owner,
 * channel, coordinator id, handoff window ms (`0`: never reserve — native keys, Redlock).
 * Returns 1 when it was ours (nothing is touched otherwise).
 *
 * When another coordinator is registered as waiting (and its registration has not
 * expired), the key is not deleted but set to `handoff:<this coordinator>` for the handoff
 * window: any client except the releasing coordinator may take it, so a woken waiter gets
 * the lock instead of the releaser taking it straight back. Nobody claiming it within the
 * window (a waiter that died) only costs that window: then the key expires.
 */
export const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local reserve = false
if ARGV[4] ~= '0' then
  local entries = redis.call('HGETALL', KEYS[2])
  if #entries > 0 then
    ${NOW_MS}
    for i = 1, #entries, 2 do
      if tonumber(entries[i + 1]) < now then
        redis.call('HDEL', KEYS[2], entries[i])
      elseif entries[i] ~= ARGV[3] then
        reserve = true
      end
    end
  end
end
if reserve then
  redis.call('SET', KEYS[1], 'handoff:' .. ARGV[3], 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
redis.call('PUBLISH', ARGV[2], '1')
return 1
`);

/**
 * Bounded add. KEYS: counter. ARGV: delta, min, max (decimal strings; the safe-integer
 * range when unbounded). Returns `{1, value}` after INCRBY, or `{0, current}` with nothing
 * written when `current + delta` would leave `[min, max]`.
 *
 * Values and bounds are safe integers, so they are exact in Lua's doubles; a sum beyond
 * 2^53 may round, but rounding is monotonic, so it still compares above any safe `max`.
 */
export const COUNTER_ADD = new LuaScript(`
local raw = redis.call('GET', KEYS[1])
local current = tonumber(raw or '0')
if current == nil or current ~= math.floor(current) then
  return redis.error_reply('ERR lockstep: counter ' .. KEYS[1] .. ' does not hold an integer')
end
local attempted = current + tonumber(ARGV[1])
if attempted < tonumber(ARGV[2]) or attempted > tonumber(ARGV[3]) then
  return {0, raw or '0'}
end
return {1, redis.call('INCRBY', KEYS[1], ARGV[1])}
`);

/**
 * Compare-and-set. KEYS: counter. ARGV: expected, next. An absent counter counts as 0.
 * Returns 1 when it was set.
 */
export const COUNTER_CAS = new LuaScript(`
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current == tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`);

/**
 * Who holds a lock, read without changing anything. KEYS: lock, fence. Returns `{owner, ms
 * left, last token}`, with `''` for an absent owner or token. A lock's holder is always its
 * name's last grant (any later grant would have replaced the key), so the last token is its.
 */
export const LOCK_INSPECT = new LuaScript(`
return {redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
`);
