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
  readonly #numKeys: number;

  constructor(source: string, numKeys: number) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
    this.#numKeys = numKeys;
  }

  /** Runs the script; `keys.length` must equal the declared key count. */
  async run(client: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, this.#numKeys, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.eval(this.source, this.#numKeys, ...keys, ...args);
    }
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Fenced acquire (single instance). KEYS: lock, fence. ARGV: owner, ttl ms.
 * Returns `{1, token}` (token as a decimal string) or `{0, pttl}` of the current holder.
 *
 * The token is `max(last + 1, server time in µs)`: strictly increasing per name like a
 * plain counter, and still larger than every earlier token after a restart that lost the
 * fence key (no persistence), as long as the server clock did not step back. µs since
 * 1970 stay below 2^53 until the year 2255, so the value is exact in Lua's doubles.
 * `replicate_commands` makes TIME legal before writes on Redis 3.2–6 (a no-op on 7+).
 */
export const ACQUIRE_FENCED = new LuaScript(
  `
redis.replicate_commands()
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  local token = string.format('%d', math.max(last + 1, now))
  redis.call('SET', KEYS[2], token)
  return {1, token}
end
return {0, redis.call('PTTL', KEYS[1])}
`,
  2,
);

/**
 * Unfenced acquire (Redlock instances). KEYS: lock. ARGV: owner, ttl ms.
 * Returns `{1}` or `{0, pttl}` of the current holder.
 */
export const ACQUIRE_PLAIN = new LuaScript(
  `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
return {0, redis.call('PTTL', KEYS[1])}
`,
  1,
);

/** Compare-then-extend. KEYS: lock. ARGV: owner, ttl ms. Returns 1 when it was ours. */
export const EXTEND = new LuaScript(
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`,
  1,
);

/**
 * Compare-then-delete, and announce the release to waiters. KEYS: lock. ARGV: owner,
 * channel. Returns 1 when it was ours (nothing is touched otherwise).
 */
export const RELEASE = new LuaScript(
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '1')
  return 1
end
return 0
`,
  1,
);

/**
 * Bounded add. KEYS: counter. ARGV: delta, min, max (decimal strings; the safe-integer
 * range when unbounded). Returns `{1, value}` after INCRBY, or `{0, current}` with nothing
 * written when `current + delta` would leave `[min, max]`.
 *
 * Values and bounds are safe integers, so they are exact in Lua's doubles; a sum beyond
 * 2^53 may round, but rounding is monotonic, so it still compares above any safe `max`.
 */
export const COUNTER_ADD = new LuaScript(
  `
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
`,
  1,
);

/**
 * Compare-and-set. KEYS: counter. ARGV: expected, next. An absent counter counts as 0.
 * Returns 1 when it was set.
 */
export const COUNTER_CAS = new LuaScript(
  `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current == tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`,
  1,
);
