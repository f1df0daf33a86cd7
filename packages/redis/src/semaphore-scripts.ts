/**
 * The Lua scripts of semaphores at a native location (redis-semaphore's sorted set): one per
 * operation, each one round trip and atomic on the server. Lockstep's own semaphores are
 * queued leases (`queue-scripts.ts`); renewals and checks of both are `PERMITS_RENEW` and
 * `PERMITS_HELD` there.
 *
 * Scores and arguments that reach Redis are written with `%d`: Lua 5.1 would print a
 * number above 10^14 in exponent form, which ZADD and ZRANGE refuse.
 * @module
 */
import { LuaScript, NOW_MS, nextToken } from './scripts.js';

/**
 * Acquire a permit of redis-semaphore's `Semaphore` at its own key, its way: drop the entries
 * older than the lease, admit while fewer than `permits` remain, add ours scored by the time,
 * keep the key alive for a lease — plus lockstep's fencing token in the same step. KEYS: key,
 * fence. ARGV: owner, ttl ms (the lease every client of this key must use), permits.
 * Returns `{1, token}`, or `{0, ms}` until the oldest entry's lease ends.
 *
 * The one difference: redis-semaphore scores with its client's clock, lockstep with the
 * server's, so the two agree only as well as those clocks do.
 */
export const NATIVE_SEM_ACQUIRE = new LuaScript(`${NOW_MS}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now - ttl))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  ${nextToken('KEYS[2]')}
  return {1, token}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + ttl - now}
`);

/**
 * Release a native permit. KEYS: key. ARGV: owner, window ms (the lease), channel. Returns 1
 * when our entry was there and live; PUBLISHes then, for lockstep waiters (redis-semaphore's
 * own clients poll).
 */
export const NATIVE_SEM_RELEASE = new LuaScript(`${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now - tonumber(ARGV[2])))
local ours = redis.call('ZREM', KEYS[1], ARGV[1])
if ours == 1 then
  redis.call('PUBLISH', ARGV[3], '1')
end
return ours
`);
