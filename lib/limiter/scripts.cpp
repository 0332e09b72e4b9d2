#include "limiter/scripts.hpp"

#include <string>

namespace celeriac::limiter::scripts {
namespace {

// Shared by both scripts. Entries always hold a positive amount (a
// correction that brings one to zero removes it), so a limit's window is
// empty exactly when its log is.
constexpr const char* prelude = R"lua(
-- Redis time in microseconds: one clock for every host.
local function redis_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Numbers as exact text for commands (Lua's own tostring keeps 14 digits,
-- too few for a time in microseconds).
local function whole(x) return string.format('%.0f', x) end
local function exact(x) return string.format('%.17g', x) end

-- Drops the entries recorded at or before now - window and subtracts them
-- from the sum. Returns the sum of the entries left, and whether any are.
local function prune(log, amounts, sum, now, window_us)
  local freed, dropped = 0, false
  while true do
    local old = redis.call('ZRANGE', log, '-inf', whole(now - window_us), 'BYSCORE', 'LIMIT', 0, 500)
    if #old == 0 then break end
    for _, v in ipairs(redis.call('HMGET', amounts, unpack(old))) do freed = freed + (tonumber(v) or 0) end
    redis.call('ZREM', log, unpack(old))
    redis.call('HDEL', amounts, unpack(old))
    dropped = true
  end
  if redis.call('EXISTS', log) == 0 then
    redis.call('DEL', amounts, sum)
    return 0, false
  end
  local used
  if dropped then
    used = tonumber(redis.call('INCRBYFLOAT', sum, exact(-freed)))
  else
    used = tonumber(redis.call('GET', sum) or '0')
  end
  if used < 0 then used = 0 end
  return used, true
end

-- Idle keys vanish a second after the last entry could matter.
local function keep(log, amounts, sum, window_ms)
  local ttl = tonumber(window_ms) + 1000
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', amounts, ttl)
  redis.call('PEXPIRE', sum, ttl)
end
)lua";

constexpr const char* charge_body = R"lua(
local now = redis_now()
local id = ARGV[1]
local n = #KEYS / 3

-- Float sums drift by a few ulps; a charge that fits to within that fits.
local function fits(used, cost, allowed)
  return used + cost <= allowed * (1 + 1e-9) + 1e-9
end

-- Microseconds until enough of the oldest entries have left the window to
-- free `need`; with `all`, until every entry has (an oversize charge waits
-- for an empty window).
local function wait_us(log, amounts, now, window_us, need, all)
  if all then
    local newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
    return tonumber(newest[2]) + window_us - now
  end
  local freed, start = 0, 0
  while true do
    local page = redis.call('ZRANGE', log, start, start + 99, 'WITHSCORES')
    if #page == 0 then break end
    local ids = {}
    for j = 1, #page, 2 do ids[#ids + 1] = page[j] end
    local vals = redis.call('HMGET', amounts, unpack(ids))
    for j = 1, #ids do
      freed = freed + (tonumber(vals[j]) or 0)
      if freed + 1e-9 >= need then return tonumber(page[2 * j]) + window_us - now end
    end
    start = start + 100
  end
  -- The sum ran ahead of the amounts it adds up: wait for all of them.
  return wait_us(log, amounts, now, window_us, need, true)
end

local wait, short = 0, 0
for i = 1, n do
  local log, amounts, sum = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local allowed = tonumber(ARGV[3 * i - 1])
  local window_us = tonumber(ARGV[3 * i]) * 1000
  local cost = tonumber(ARGV[3 * i + 1])
  local used, busy = prune(log, amounts, sum, now, window_us)
  if cost > 0 and busy and not fits(used, cost, allowed) then
    local w = wait_us(log, amounts, now, window_us, used + cost - allowed, not fits(0, cost, allowed))
    if w < 1 then w = 1 end
    if w > wait then wait, short = w, i end
  end
end
if short > 0 then return {0, math.ceil(wait / 1000), short} end

local at = whole(now)
for i = 1, n do
  local log, amounts, sum = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local cost = ARGV[3 * i + 1]
  if tonumber(cost) > 0 then
    redis.call('ZADD', log, at, id)
    redis.call('HSET', amounts, id, cost)
    redis.call('INCRBYFLOAT', sum, cost)
    keep(log, amounts, sum, ARGV[3 * i])
  end
end
return {1}
)lua";

constexpr const char* adjust_body = R"lua(
local now = redis_now()
local log, amounts, sum = KEYS[1], KEYS[2], KEYS[3]
local id, delta, window_ms = ARGV[1], tonumber(ARGV[2]), ARGV[3]
prune(log, amounts, sum, now, tonumber(window_ms) * 1000)
if redis.call('ZSCORE', log, id) then
  local amount = tonumber(redis.call('HGET', amounts, id) or '0')
  if amount + delta <= 1e-9 * amount then
    redis.call('ZREM', log, id)
    redis.call('HDEL', amounts, id)
    if redis.call('EXISTS', log) == 0 then
      redis.call('DEL', amounts, sum)
    else
      redis.call('INCRBYFLOAT', sum, exact(-amount))
    end
    return 'dropped'
  end
  redis.call('HINCRBYFLOAT', amounts, id, ARGV[2])
  redis.call('INCRBYFLOAT', sum, ARGV[2])
  return 'adjusted'
end
if delta <= 0 then return 'gone' end
-- Used after its charge left the window: it counts from now.
redis.call('ZADD', log, whole(now), id)
redis.call('HSET', amounts, id, ARGV[2])
redis.call('INCRBYFLOAT', sum, ARGV[2])
keep(log, amounts, sum, window_ms)
return 'recorded'
)lua";

// GCRA (the generic cell rate algorithm): one number per limit, the time
// the next run's slot starts. Standalone (no prelude): every admission runs
// it, so it defines nothing it does not use.
constexpr const char* admit_body = R"lua(
local key = KEYS[1]
local interval, tolerance, runs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- How far the next slot lies ahead of now. Times are whole µs (the TAT is
-- rounded up when stored), so this difference is exact.
local ahead = (tonumber(redis.call('GET', key)) or now) - now
if ahead < 0 then ahead = 0 end
local function store(a)
  -- Once the TAT has passed, a missing key means the same: let it go.
  redis.call('SET', key, string.format('%.0f', now + a), 'PX', math.ceil(a / 1000) + 1000)
end
-- No admission under this pacing leaves the TAT further ahead than this
-- (plus 1 µs of rounding up); a TAT beyond it was set under a slower limit
-- since changed, which must not hold back the new one: start the new
-- pacing as if a run had just been admitted.
if ahead > tolerance + interval + 1 then
  ahead = math.ceil(tolerance + interval)
  store(ahead)
end
-- Float rounding of tolerance / interval must not refuse a slot that
-- starts exactly now.
local slack = 1e-6
local admitted = 0
if ahead - tolerance <= slack then
  admitted = math.min(runs, math.floor((tolerance - ahead + slack) / interval) + 1)
end
if admitted > 0 then
  -- Rounded up: a slot never starts before its exact time.
  ahead = math.ceil(ahead + admitted * interval)
  store(ahead)
end
local wait = ahead - tolerance
if wait < 0 then wait = 0 end
return {admitted, math.ceil(wait), now}
)lua";

}  // namespace

const redis::script& charge() {
  static const redis::script s{std::string(prelude) + charge_body};
  return s;
}

const redis::script& adjust() {
  static const redis::script s{std::string(prelude) + adjust_body};
  return s;
}

const redis::script& admit() {
  static const redis::script s{admit_body};
  return s;
}

}  // namespace celeriac::limiter::scripts
