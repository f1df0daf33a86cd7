/**
 * The Lua scripts of elections: a candidacy is a queued lease (`queue-scripts.ts`) where every
 * candidate declares 1, with the leader's record — owner, term (its fencing token), version
 * (how many times it proclaimed) and value — written beside it, and every change published on
 * the election's channel for observers:
 *
 * - `l <term> <version> <ms left> <value>`: this leader, with this value, leads for at least that long;
 * - `v <term>`: the leadership of that term ended (a resignation, or a lapsed lease dropped by a script).
 *
 * A lease that lapses publishes nothing at that instant (nothing runs on the server then):
 * observers re-read when the lease they last heard of ends.
 * @module
 */
import { queueScripts } from './queue-scripts.js';
import { LuaScript, NOW_MS } from './scripts.js';

/** Acquire (ARGV: owner, channel, ttl ms, 1, registration ms, value), release and withdraw; KEYS[8] is the leader's record. */
export const ELECTION_SCRIPTS = queueScripts({
  granted: `redis.call('HSET', KEYS[8], 'owner', o, 'term', t, 'version', '0', 'value', ARGV[6])
redis.call('PUBLISH', ARGV[2], 'l ' .. t .. ' 0 ' .. ARGV[3] .. ' ' .. ARGV[6])`,
  ended: `if redis.call('HGET', KEYS[8], 'owner') == o then
  redis.call('PUBLISH', ARGV[2], 'v ' .. redis.call('HGET', KEYS[8], 'term'))
  redis.call('DEL', KEYS[8])
end`,
});

/**
 * Proclaim a value, only while `owner` leads and its lease is live. KEYS: holders, leader.
 * ARGV: owner, channel, value. Returns 1 when written (and published), 0 otherwise.
 */
export const PROCLAIM = new LuaScript(`${NOW_MS}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) < now or redis.call('HGET', KEYS[2], 'owner') ~= ARGV[1] then
  return 0
end
local version = redis.call('HINCRBY', KEYS[2], 'version', 1)
redis.call('HSET', KEYS[2], 'value', ARGV[3])
local left = string.format('%d', tonumber(score) - now)
redis.call('PUBLISH', ARGV[2], 'l ' .. redis.call('HGET', KEYS[2], 'term') .. ' ' .. version .. ' ' .. left .. ' ' .. ARGV[3])
return 1
`);

/**
 * The leader, read without changing anything. KEYS: holders, leader, fence. Returns
 * `{1, term, version, ms left, value}` while its lease is live, else `{0, last term issued}`.
 */
export const LEADER = new LuaScript(`${NOW_MS}
local owner = redis.call('HGET', KEYS[2], 'owner')
if owner then
  local score = redis.call('ZSCORE', KEYS[1], owner)
  if score and tonumber(score) >= now then
    local r = redis.call('HMGET', KEYS[2], 'term', 'version', 'value')
    return {1, r[1], r[2], tonumber(score) - now, r[3]}
  end
end
return {0, redis.call('GET', KEYS[3]) or '0'}
`);
