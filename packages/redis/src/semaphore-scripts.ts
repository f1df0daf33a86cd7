/**
 * The Lua scripts of semaphores: one per operation, each one round trip and atomic on the
 * server, every key it touches declared in KEYS.
 *
 * A lockstep semaphore is four sorted sets and a fencing counter (see `keys.ts`): holders
 * scored by their lease deadline, the count each holder declared, the waiters in arrival
 * order, and when each waiter's registration lapses. Every script first drops the holders
 * whose lease ended and the waiters whose registration lapsed — the count a script judges by
 * never includes a dead client — and a script that frees room (a release, a withdrawal, a
 * dropped holder) PUBLISHes the ids of the waiters at the head of the queue that now fit,
 * so exactly they are woken.
 *
 * An entry is live while `score ≥ now − window` (see {@link PERMITS_RENEW}), and dropped only
 * once the clock has passed that: `now` is the server's µs clock rounded down to a ms, so a
 * deadline computed from it may lie up to a ms before the true one, and a lease must never end
 * before the holder's own count of it (from the instant it sent the request) does. Redis's own
 * PX expiry follows the same rule.
 *
 * Scores and arguments that reach Redis are written with `%d`: Lua 5.1 would print a
 * number above 10^14 in exponent form, which ZADD and ZRANGE refuse.
 * @module
 */
import { LuaScript, NOW_MS, nextToken } from './scripts.js';

/** The prefix of a wake-up that names the waiters to wake (a lock's release publishes `1`). */
export const WAKE_PREFIX = 'w ';

/**
 * Shared head of the queued scripts. KEYS: 1 holders, 2 limits, 3 queue, 4 waiting.
 * `prune()` drops dead holders and lapsed waiters (true when it dropped any); `room(d)` is
 * how many more holders fit for a requester declaring `d` (the `smallest` rule: the smallest
 * count declared by it and by every holder, minus the holders); `wake(channel, d)` names the
 * waiters at the head that fit in that room.
 */
const QUEUED = `${NOW_MS}
local function prune()
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now))
  for i = 1, #gone do
    redis.call('ZREM', KEYS[1], gone[i])
    redis.call('ZREM', KEYS[2], gone[i])
  end
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. string.format('%d', now))
  for i = 1, #lapsed do
    redis.call('ZREM', KEYS[4], lapsed[i])
    redis.call('ZREM', KEYS[3], lapsed[i])
  end
  return #gone + #lapsed > 0
end
local function room(declared)
  local limit = declared
  local smallest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if smallest[2] and tonumber(smallest[2]) < limit then
    limit = tonumber(smallest[2])
  end
  return limit - redis.call('ZCARD', KEYS[1])
end
local function wake(channel, declared)
  local n = math.min(room(declared), redis.call('ZCARD', KEYS[3]))
  if n >= 1 then
    local heads = redis.call('ZRANGE', KEYS[3], 0, string.format('%d', n - 1))
    redis.call('PUBLISH', channel, '${WAKE_PREFIX}' .. table.concat(heads, ' '))
  end
end`;

/**
 * Acquire one permit. KEYS: holders, limits, queue, waiting, fence. ARGV: owner, ttl ms,
 * declared permits, registration ms (`0`: a lone attempt that never queues), channel.
 * Returns `{1, token}`, or `{0, ms}`: in how many ms the holders' leases alone would let this
 * requester in (`-1`: they would not; waiters ahead of it must go first).
 *
 * A requester gets in when fewer waiters are ahead of it in the queue than there is room, so
 * a free permit goes to the head waiter first and a newcomer (the releaser coming straight
 * back included) queues behind. A waiter keeps its place by registering again on every
 * attempt; one that died lapses after its registration and is dropped.
 */
export const SEM_ACQUIRE = new LuaScript(`${QUEUED}
local owner = ARGV[1]
local declared = tonumber(ARGV[3])
local pruned = prune()
local fits = room(declared)
local rank = redis.call('ZRANK', KEYS[3], owner)
local ahead = rank or redis.call('ZCARD', KEYS[3])
if ahead < fits then
  if rank then
    redis.call('ZREM', KEYS[3], owner)
    redis.call('ZREM', KEYS[4], owner)
  end
  redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), owner)
  redis.call('ZADD', KEYS[2], ARGV[3], owner)
  if pruned then wake(ARGV[5], declared) end
  ${nextToken('KEYS[5]')}
  return {1, token}
end
if pruned then wake(ARGV[5], declared) end
local registration = tonumber(ARGV[4])
if registration > 0 then
  if not rank then
    local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
    local ticket = 0
    if last[2] then ticket = tonumber(last[2]) + 1 end
    redis.call('ZADD', KEYS[3], string.format('%d', ticket), owner)
  end
  redis.call('ZADD', KEYS[4], string.format('%d', now + registration), owner)
end
local need = ahead - fits + 1
local holder = redis.call('ZRANGE', KEYS[1], string.format('%d', need - 1), string.format('%d', need - 1), 'WITHSCORES')
if holder[2] then
  return {0, tonumber(holder[2]) - now}
end
return {0, -1}
`);

/**
 * Release one permit. KEYS: holders, limits, queue, waiting. ARGV: owner, channel, declared
 * permits. Returns 1 when it was ours and live (removes only our own entry), 0 otherwise.
 */
export const SEM_RELEASE = new LuaScript(`${QUEUED}
local pruned = prune()
local ours = redis.call('ZREM', KEYS[1], ARGV[1])
if ours == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if ours == 1 or pruned then wake(ARGV[2], tonumber(ARGV[3])) end
return ours
`);

/**
 * Leave the queue (a wait that timed out, was aborted or closed). KEYS: holders, limits,
 * queue, waiting. ARGV: owner, channel, declared permits. Returns 1 when it was queued. A
 * waiter that leaves from a place that fitted passes its wake-up on to the next.
 */
export const SEM_WITHDRAW = new LuaScript(`${QUEUED}
local pruned = prune()
local rank = redis.call('ZRANK', KEYS[3], ARGV[1])
if rank then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
if pruned or (rank and rank < room(tonumber(ARGV[3]))) then wake(ARGV[2], tonumber(ARGV[3])) end
if rank then return 1 end
return 0
`);

/**
 * Renew permits, any number of them. KEYS: holders 1 … n. ARGV per key: owner, ttl ms,
 * window ms. Returns 1 (it was ours and live, and is extended) or 0 per key, in order.
 *
 * A holder's score is judged by its window: live while `score ≥ now − window`. Lockstep's
 * own semaphores score the lease deadline (window 0); redis-semaphore scores the time of the
 * last acquire or refresh and every client judges it by its lease (window = that lease), so
 * a renewal for `ttl` writes `now + ttl − window`, live until `now + ttl` by either rule. A
 * native key also expires as a whole (redis-semaphore sets its PEXPIRE): renewal only ever
 * lengthens it.
 */
export const PERMITS_RENEW = new LuaScript(`${NOW_MS}
local ours = {}
for i = 1, #KEYS do
  local owner = ARGV[3 * i - 2]
  local ttl = tonumber(ARGV[3 * i - 1])
  local window = tonumber(ARGV[3 * i])
  local score = redis.call('ZSCORE', KEYS[i], owner)
  if score and tonumber(score) >= now - window then
    redis.call('ZADD', KEYS[i], 'XX', string.format('%d', now + ttl - window), owner)
    if window > 0 and redis.call('PTTL', KEYS[i]) < ttl then
      redis.call('PEXPIRE', KEYS[i], ttl)
    end
    ours[i] = 1
  else
    ours[i] = 0
  end
end
return ours
`);

/**
 * Whether permits are held, any number of them. KEYS: holders 1 … n. ARGV per key: owner,
 * window ms (see {@link PERMITS_RENEW}). Returns 1 or 0 per key, in order.
 */
export const PERMITS_HELD = new LuaScript(`${NOW_MS}
local held = {}
for i = 1, #KEYS do
  local score = redis.call('ZSCORE', KEYS[i], ARGV[2 * i - 1])
  if score and tonumber(score) >= now - tonumber(ARGV[2 * i]) then
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
`);

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
