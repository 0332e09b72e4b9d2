#include "admin/scripts.hpp"

namespace celeriac::admin::scripts {

const redis::script requeue_dead{R"lua(
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[4])
return 1
)lua"};

const redis::script delete_list{R"lua(
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
)lua"};

const redis::script purge_queue{R"lua(
local waiting = 0
for i = 1, 4 do waiting = waiting + redis.call('LLEN', KEYS[i]) end
local delayed = redis.call('ZCARD', KEYS[5])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return {waiting, delayed}
)lua"};

// An entry is json.dumps([envelope, exchange, routing_key]): the routing
// key is the last string, read from the tail without decoding the
// envelope. Inside a JSON string every quote is escaped, so a quote after
// ", " opens the last element; a key with escapes in it goes to cjson.
const redis::script count_unacked_step{R"lua(
local r = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local items = r[2]
local counts, order = {}, {}
for i = 2, #items, 2 do
  local v = items[i]
  local rk = string.match(v, ',%s*"([^"\\]*)"%s*%]%s*$')
  if not rk then
    local ok, t = pcall(cjson.decode, v)
    rk = (ok and type(t) == 'table' and type(t[3]) == 'string') and t[3] or ''
  end
  if not counts[rk] then counts[rk] = 0; order[#order + 1] = rk end
  counts[rk] = counts[rk] + 1
end
local out = {r[1]}
for _, k in ipairs(order) do out[#out + 1] = k; out[#out + 1] = counts[k] end
return out
)lua"};

const redis::script queue_depth{R"lua(
local out = {}
for i = 1, 4 do out[i] = redis.call('LLEN', KEYS[i]) end
out[5] = redis.call('ZCARD', KEYS[5])
local first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
out[6] = first[2] or false
return out
)lua"};

}  // namespace celeriac::admin::scripts
