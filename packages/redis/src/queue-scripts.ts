/**
 * The Lua scripts of a lease with a queue of waiters — lockstep's semaphores, read-write locks
 * and elections: one script per operation, each one round trip and atomic on the server, every
 * key it touches declared in KEYS.
 *
 * Such a lease is six sorted sets and a fencing counter (see `keys.ts`): holders scored by
 * their lease deadline, the count each holder declared, each holder's token, the waiters in
 * arrival order, when each waiter's registration lapses, and the count each waiter declared.
 * A semaphore's permit declares its permits; a writer 1 and a reader {@link READER_CLAIM}, so
 * readers share and a writer holds alone; a candidate 1. Every script first drops the holders
 * whose lease ended and the waiters whose registration lapsed — the count a script judges by
 * never includes a dead client — and a script that frees room (a release, a withdrawal, a
 * dropped holder) PUBLISHes the ids of the waiters at the head of the queue that now get in,
 * so exactly they are woken.
 *
 * The queue is strictly first come, first served: nobody passes a waiter that does not fit,
 * so a reader that comes after a waiting writer waits behind it, and a permit declared for a
 * smaller count holds back those behind it as well.
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

/** What a reader declares: larger than any count of holders, so readers never fill the lock. */
export const READER_CLAIM = Number.MAX_SAFE_INTEGER;

/** Lua run where a queued lease changes hands; `o` is the owner, `t` the token as a string. */
export interface QueueHooks {
  /** After `o` was granted with token `t` (its entries written). */
  readonly granted?: string;
  /** After `o`'s lease ended: released, or dropped once it lapsed. */
  readonly ended?: string;
}

/**
 * Shared head of the queued scripts. KEYS: 1 holders, 2 limits, 3 tokens, 4 queue, 5 waiting,
 * 6 asks, 7 fence, then the kind's own. ARGV: 1 owner, 2 channel, then the script's own.
 * `prune()` drops dead holders and lapsed waiters (true when it dropped any); `judge(owner, d)`
 * says whether a requester declaring `d` gets in; `wake()` names the waiters at the head that
 * now get in.
 */
function queued(hooks: QueueHooks): string {
  return `${NOW_MS}
local function granted(o, t)
${hooks.granted ?? ''}
end
local function ended(o)
${hooks.ended ?? ''}
end
local function prune()
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now))
  for i = 1, #gone do
    redis.call('ZREM', KEYS[1], gone[i])
    redis.call('ZREM', KEYS[2], gone[i])
    redis.call('ZREM', KEYS[3], gone[i])
    ended(gone[i])
  end
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. string.format('%d', now))
  for i = 1, #lapsed do
    redis.call('ZREM', KEYS[5], lapsed[i])
    redis.call('ZREM', KEYS[4], lapsed[i])
    redis.call('ZREM', KEYS[6], lapsed[i])
  end
  return #gone + #lapsed > 0
end
local function holdersLimit()
  local smallest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if smallest[2] then return tonumber(smallest[2]) end
  return math.huge
end
-- A requester declaring d behind r waiters (its place, or behind them all when new) gets in when
-- holders + r < the smallest count declared by it, every holder and every waiter ahead of it: the
-- waiters ahead get in first. Returns whether it gets in, its rank, and when refused how many
-- holders must leave before it could (0: a waiter ahead that does not fit must go first).
local function judge(owner, d)
  local count = redis.call('ZCARD', KEYS[1])
  local limit = math.min(d, holdersLimit())
  local rank = redis.call('ZRANK', KEYS[4], owner)
  local ahead = rank or redis.call('ZCARD', KEYS[4])
  if count + ahead >= limit then return false, rank, count + ahead + 1 - limit end
  if ahead > 0 then
    local narrow = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', string.format('%d', count + ahead))
    for i = 1, #narrow do
      if not rank or redis.call('ZRANK', KEYS[4], narrow[i]) < rank then return false, rank, 0 end
    end
  end
  return true, rank, 0
end
local function wake()
  if redis.call('EXISTS', KEYS[4]) == 0 then return end
  local count = redis.call('ZCARD', KEYS[1])
  local limit = holdersLimit()
  local heads = {}
  while count < limit do
    local head = redis.call('ZRANGE', KEYS[4], #heads, #heads)[1]
    if not head then break end
    local d = tonumber(redis.call('ZSCORE', KEYS[6], head) or '1')
    if d < limit then limit = d end
    if count >= limit then break end
    heads[#heads + 1] = head
    count = count + 1
  end
  if #heads > 0 then
    redis.call('PUBLISH', ARGV[2], '${WAKE_PREFIX}' .. table.concat(heads, ' '))
  end
end
local function unqueue(owner)
  redis.call('ZREM', KEYS[4], owner)
  redis.call('ZREM', KEYS[5], owner)
  redis.call('ZREM', KEYS[6], owner)
end
`;
}

/**
 * Acquire. ARGV: owner, channel, ttl ms, declared count, registration ms (`0`: a lone attempt
 * that never queues), then the kind's own. Returns `{1, token}`, or `{0, ms}`: in how many ms
 * the holders' leases alone would let this requester in (`-1`: they would not; waiters ahead
 * of it must go first).
 *
 * A free place goes to the head waiter first, and a newcomer (the releaser coming straight back
 * included) queues behind. A waiter keeps its place by registering again on every attempt; one
 * that died lapses after its registration and is dropped.
 */
const ACQUIRE = `
local owner = ARGV[1]
local pruned = prune()
local admitted, rank, need = judge(owner, tonumber(ARGV[4]))
if admitted then
  if rank then unqueue(owner) end
  redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[3])), owner)
  redis.call('ZADD', KEYS[2], ARGV[4], owner)
  ${nextToken('KEYS[7]')}
  redis.call('ZADD', KEYS[3], string.format('%d', token), owner)
  granted(owner, string.format('%d', token))
  if pruned then wake() end
  return {1, token}
end
if pruned then wake() end
local registration = tonumber(ARGV[5])
if registration > 0 then
  if not rank then
    local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
    local ticket = 0
    if last[2] then ticket = tonumber(last[2]) + 1 end
    redis.call('ZADD', KEYS[4], string.format('%d', ticket), owner)
    redis.call('ZADD', KEYS[6], ARGV[4], owner)
  end
  redis.call('ZADD', KEYS[5], string.format('%d', now + registration), owner)
end
if need >= 1 then
  local holder = redis.call('ZRANGE', KEYS[1], string.format('%d', need - 1), string.format('%d', need - 1), 'WITHSCORES')
  if holder[2] then return {0, tonumber(holder[2]) - now} end
end
return {0, -1}
`;

/** Release. ARGV: owner, channel. Returns 1 when it was ours and live (removes only our own entries), 0 otherwise. */
const RELEASE = `
local pruned = prune()
local ours = redis.call('ZREM', KEYS[1], ARGV[1])
if ours == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  ended(ARGV[1])
end
if ours == 1 or pruned then wake() end
return ours
`;

/**
 * Leave the queue (a wait that timed out, was aborted or closed). ARGV: owner, channel.
 * Returns 1 when it was queued. Whoever its place held back, or its wake-up named, is woken.
 */
const WITHDRAW = `
local pruned = prune()
local rank = redis.call('ZRANK', KEYS[4], ARGV[1])
if rank then unqueue(ARGV[1]) end
if pruned or rank then wake() end
if rank then return 1 end
return 0
`;

/** The acquire, release and withdraw scripts of one kind of queued lease. */
export interface QueueScripts {
  readonly acquire: LuaScript;
  readonly release: LuaScript;
  readonly withdraw: LuaScript;
}

/** The three scripts, with `hooks` run where the lease changes hands. */
export function queueScripts(hooks: QueueHooks = {}): QueueScripts {
  const head = queued(hooks);
  return {
    acquire: new LuaScript(head + ACQUIRE),
    release: new LuaScript(head + RELEASE),
    withdraw: new LuaScript(head + WITHDRAW),
  };
}

/** The scripts of semaphores and read-write locks (nothing beside the queue changes hands). */
export const QUEUE_SCRIPTS: QueueScripts = queueScripts();

/**
 * Who holds, read without changing anything. KEYS: holders, tokens, waiting. Returns
 * `{owner, token, ms left, …}` of the live holders, and the number of live waiters last.
 */
export const QUEUE_INSPECT = new LuaScript(`${NOW_MS}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('%d', now), '+inf', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = redis.call('ZSCORE', KEYS[2], live[i]) or ''
  out[#out + 1] = tonumber(live[i + 1]) - now
end
out[#out + 1] = redis.call('ZCOUNT', KEYS[3], string.format('%d', now), '+inf')
return out
`);

/**
 * Renew permits, any number of them. KEYS: holders 1 … n. ARGV per key: owner, ttl ms,
 * window ms. Returns 1 (it was ours and live, and is extended) or 0 per key, in order.
 *
 * A holder's score is judged by its window: live while `score ≥ now − window`. Lockstep's
 * own queued leases score the lease deadline (window 0); redis-semaphore scores the time of the
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
