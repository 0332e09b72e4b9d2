#include "broker/chord_scripts.hpp"

#include "broker/lua_scripts.hpp"

namespace celeriac::broker::lua {

namespace {

// write_meta(key, meta, ttl), shared with the complete script.
const std::string write_meta{lua::write_meta_function};

}  // namespace

// KEYS: [1] .j  [2] .t  [3] .s  [4] the saved GroupResult key
//       [5] the task's result meta key (any key when ARGV[5] is '')
// ARGV: [1] TTL in seconds (0: none)  [2] member  [3] score (group_index
//       or '+inf')  [4] the member prefix '[1, "<task id>", '  [5] the
//       result meta JSON, '' for none
// Reply: {0} not complete (or no .s: not applied yet, or completed);
//        {1, saved GroupResult or '', {members in zset order}} complete;
//        {2, .s text} when .s or .t is not a number.
// A member of the same task already there (a second run) is replaced,
// unless it is a SUCCESS, which is kept; either way the count is unchanged.
const std::string chord_join = write_meta + R"lua(
local ttl = tonumber(ARGV[1])
if ARGV[5] ~= '' then write_meta(KEYS[5], ARGV[5], ttl) end
local prefix = ARGV[4]
local keep = false
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], ARGV[3])) do
  if string.sub(m, 1, #prefix) == prefix then
    if string.sub(m, #prefix + 1, #prefix + 10) == '"SUCCESS",' then
      keep = true
    else
      redis.call('ZREM', KEYS[1], m)
    end
  end
end
if not keep then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2]) end
local count = redis.call('ZCARD', KEYS[1])
local extra = redis.call('GET', KEYS[2])
local size = redis.call('GET', KEYS[3])
if ttl > 0 then
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end
end
if not size then return {0} end
local total = tonumber(size)
if total == nil or (extra and tonumber(extra) == nil) then return {2, size} end
if extra then total = total + tonumber(extra) end
if count < total then return {0} end
return {1, redis.call('GET', KEYS[4]) or '', redis.call('ZRANGE', KEYS[1], 0, -1)}
)lua";

// KEYS: [1] .j  [2] .t  [3] .s, then one key per effect
// ARGV: [1] TTL in seconds (0: none), then for each effect its kind and
//       value: 'value' (SET + PUBLISH, as Celery's backend set()), 'meta'
//       (write_meta), 'bind' (SADD), 'push' (LPUSH)
// Reply: 1 completed here; 0 .s was gone (completed already).
const std::string chord_complete = write_meta + R"lua(
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local ttl = tonumber(ARGV[1])
for i = 4, #KEYS do
  local kind, value, key = ARGV[2 * i - 6], ARGV[2 * i - 5], KEYS[i]
  if kind == 'push' then
    redis.call('LPUSH', key, value)
  elseif kind == 'bind' then
    redis.call('SADD', key, value)
  elseif kind == 'meta' then
    write_meta(key, value, ttl)
  else
    if ttl > 0 then redis.call('SET', key, value, 'EX', ttl) else redis.call('SET', key, value) end
    redis.call('PUBLISH', key, value)
  end
end
return 1
)lua";

}  // namespace celeriac::broker::lua
