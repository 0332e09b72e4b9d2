#include "broker/lua_scripts.hpp"

namespace celeriac::broker::lua {

// KEYS: [1] unacked  [2] unacked_index  [3] dead-letter list  [4] the
//       child's held set (celeriac.held.<node>.<pid>)  [5..] lists to pop
//       from, in serving order (kombu's: priority step ascending, queues
//       round-robin within a step)
// ARGV: [1] max messages  [2] now (unix seconds with microseconds, the
//       unacked_index score), "" to read the time from Redis (a fetch
//       pipelined behind a BLMOVE runs up to a second after it was sent)
//       [3] now as ISO-8601 for dead-letter entries, or "" to have the
//       script format [2] (or Redis's time) only when it dead-letters one:
//       the worker sends "", sparing a formatted time and its Lua string
//       per fetch  [4] "1" to record tags in
//       the held set, "0" not to  [5..] the base queue name of each list in
//       KEYS[5..], same order
// Reply: flat array, for each list that gave messages: its base queue
//       name, the count k, then k pairs {tag, message} in pop order; tag
//       is "" for a message that was dead-lettered (no readable delivery
//       tag), otherwise it was recorded in unacked under tag. Fewer than
//       max messages in all means every list was empty: the fetch loop
//       goes idle on that (worker/consumer_fetch.cpp).
//
// The delivery tag is found with plain string.find (the design notes
// measured Lua patterns at half the speed), in kombu's spacing and in the
// compact spacing other producers write (JSON.stringify, Go, serde). kombu
// writes properties last and delivery_tag last within them, so the search
// starts near the end, which also skips any look-alike inside headers.
//
// Every byte that becomes a Lua string costs: Redis's Lua hashes all of it
// to intern it (about a nanosecond a byte, ~2 us of a message's ~7), so
// the script builds nothing per message it can do without, returns the
// queue once per list rather than per message, and counts its table
// lengths itself (# on a Lua table is a search).
//
// Scores rise by a microsecond per message within one fetch, so a restore
// (newest first, each pushed to the front) puts a batch back in its
// original order. They go to ZADD as Lua numbers: Redis formats those with
// %.17g itself, which keeps the microseconds and spares a string.format
// and an interned string per message (0.14 us of Redis CPU each).
//
// Dead-letter entries have the same shape as the worker's own: reason code,
// message, queue, time, raw; raw must be valid UTF-8 for JSON, so a message
// that is not gets U+FFFD in "raw" and its exact bytes in "raw_base64".
const std::string_view fetch = R"lua(
local max = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local now_iso = ARGV[3]
local out = {}
local n = 0
local spaced = '"delivery_tag": "'
local compact = '"delivery_tag":"'

local find, sub, byte, format = string.find, string.sub, string.byte, string.format

-- The tag after `needle`, or nil: searched near the end first.
local function tag_after(m, needle, from)
  local s, e = find(m, needle, from, true)
  if not s then s, e = find(m, needle, 1, true) end
  if s then
    local q = find(m, '"', e + 1, true)
    if q and q > e + 1 then return sub(m, e + 1, q - 1) end
  end
  return nil
end

local function find_tag(m)
  local len = #m
  if byte(m, 1) ~= 123 or byte(m, len) ~= 125 then return nil end
  local from = len - 160
  if from < 1 then from = 1 end
  return tag_after(m, spaced, from) or tag_after(m, compact, from)
end

-- Returns the text with each invalid UTF-8 sequence replaced by U+FFFD,
-- and whether anything was replaced.
local function utf8_clean(m)
  local parts, i, len, bad = {}, 1, #m, false
  while i <= len do
    local c = string.byte(m, i)
    local n = 0
    if c < 0x80 then n = 1 elseif c >= 0xC2 and c <= 0xDF then n = 2
    elseif c >= 0xE0 and c <= 0xEF then n = 3 elseif c >= 0xF0 and c <= 0xF4 then n = 4 end
    local ok = n > 0 and i + n - 1 <= len
    if ok then
      for k = 1, n - 1 do
        local cc = string.byte(m, i + k)
        if cc < 0x80 or cc > 0xBF then ok = false end
      end
    end
    if ok then
      parts[#parts + 1] = string.sub(m, i, i + n - 1)
      i = i + n
    else
      parts[#parts + 1] = '\239\191\189'
      bad = true
      i = i + 1
    end
  end
  return table.concat(parts), bad
end

local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function base64(m)
  local out = {}
  for i = 1, #m, 3 do
    local a, b, c = string.byte(m, i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local chunk = ''
    for k = 3, 0, -1 do
      local idx = math.floor(v / (64 ^ k)) % 64 + 1
      chunk = chunk .. string.sub(b64chars, idx, idx)
    end
    if not b then chunk = string.sub(chunk, 1, 2) .. '=='
    elseif not c then chunk = string.sub(chunk, 1, 3) .. '=' end
    out[#out + 1] = chunk
  end
  return table.concat(out)
end

-- Redis's clock as the worker formats times (util::iso8601_utc): days to
-- a civil date as in Howard Hinnant's civil_from_days.
local function iso_utc(secs, us)
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  local text = format('%04d-%02d-%02dT%02d:%02d:%02d', y, m, d, math.floor(rem / 3600),
    math.floor(rem % 3600 / 60), rem % 60)
  if us ~= 0 then text = text .. format('.%06d', us) end
  return text .. '+00:00'
end

if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- The dead-letter time, formatted on first use: most fetches need none.
local function dead_time()
  if now_iso == '' then
    -- now has microseconds and doubles resolve a quarter of one at today's
    -- dates, so rounding gives them back exactly.
    local secs = math.floor(now)
    local us = math.floor((now - secs) * 1000000 + 0.5)
    if us == 1000000 then secs, us = secs + 1, 0 end
    now_iso = iso_utc(secs, us)
  end
  return now_iso
end

local function dead_entry(m, queue)
  local raw, bad = utf8_clean(m)
  local entry = '{"reason": "no_delivery_tag", "message": ' ..
    cjson.encode('no readable properties.delivery_tag: not a kombu JSON envelope') ..
    ', "queue": ' .. cjson.encode(queue) .. ', "time": ' .. cjson.encode(dead_time()) ..
    ', "raw": ' .. cjson.encode(raw)
  if bad then entry = entry .. ', "raw_base64": "' .. base64(m) .. '"' end
  return entry .. '}'
end

-- Recording goes out in one HSET and one ZADD per popped batch (calls
-- from Lua cost more than the work they do), in slices that stay well
-- below Lua's limit on unpack() arguments.
local function record(fields, scores, tags)
  for i = 1, #fields, 2000 do
    local last = math.min(i + 1999, #fields)
    redis.call('HSET', KEYS[1], unpack(fields, i, last))
    redis.call('ZADD', KEYS[2], unpack(scores, i, last))
  end
  if ARGV[4] == '1' then
    for i = 1, #tags, 1000 do
      redis.call('SADD', KEYS[4], unpack(tags, i, math.min(i + 999, #tags)))
    end
  end
end

local no = 0
for i = 5, #KEYS do
  if n >= max then break end
  local msgs = redis.call('RPOP', KEYS[i], max - n)
  if msgs then
    local queue = ARGV[i]
    local suffix = ', "", "' .. queue .. '"]'
    local fields, scores, tags = {}, {}, {}
    local nf, nt = 0, 0
    out[no + 1] = queue
    out[no + 2] = #msgs
    no = no + 2
    for _, m in ipairs(msgs) do
      n = n + 1
      local tag = find_tag(m)
      if tag then
        nt = nt + 1
        tags[nt] = tag
        fields[nf + 1] = tag
        fields[nf + 2] = '[' .. m .. suffix
        scores[nf + 1] = now + n * 0.000001
        scores[nf + 2] = tag
        nf = nf + 2
        out[no + 1] = tag
      else
        redis.call('LPUSH', KEYS[3], dead_entry(m, queue))
        out[no + 1] = ''
      end
      out[no + 2] = m
      no = no + 2
    end
    if nf > 0 then record(fields, scores, tags) end
  end
end
return out
)lua";

// write_meta(key, meta, ttl): stores a result meta and PUBLISHes it as
// Celery's backend does, except over a stored SUCCESS, which stays; returns
// true when written. SET ... GET writes and reads the previous meta in one
// call; in the rare case that it replaced a SUCCESS, the old meta goes
// straight back inside the same script, so no reader ever sees the
// overwrite (its expiry restarts). The SUCCESS check reads the status field
// as Celery's backend writes it (first field, Python separators), so it
// recognises metas written by Celery and by celeriac alike.
const std::string_view write_meta_function = R"lua(
local function write_meta(key, meta, ttl)
  local old
  if ttl > 0 then
    old = redis.call('SET', key, meta, 'EX', ttl, 'GET')
  else
    old = redis.call('SET', key, meta, 'GET')
  end
  if old and string.find(old, '"status": "SUCCESS"', 1, true) then
    if ttl > 0 then
      redis.call('SET', key, old, 'PX', ttl * 1000)
    else
      redis.call('SET', key, old)
    end
    return false
  end
  redis.call('PUBLISH', key, meta)
  return true
end
)lua";

// KEYS: [1] unacked  [2] unacked_index  [3] the child's held set
//       [4] celeriac.deliveries (crash counts)  [5..4+R] result meta keys
// ARGV: [1] result TTL in seconds (0 = no expiry)  [2] R (number of results)
//       [3..2+R] result meta JSON, same order as the keys  [3+R..] tags to ack
// Reply: number of result metas written (skipped ones found SUCCESS stored).
const std::string complete = std::string(write_meta_function) + R"lua(
local ttl = tonumber(ARGV[1])
local r = tonumber(ARGV[2])
local written = 0
for i = 1, r do
  if write_meta(KEYS[4 + i], ARGV[2 + i], ttl) then written = written + 1 end
end
local first = 3 + r
for i = first, #ARGV, 4000 do
  local last = math.min(i + 3999, #ARGV)
  redis.call('ZREM', KEYS[2], unpack(ARGV, i, last))
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, last))
  redis.call('SREM', KEYS[3], unpack(ARGV, i, last))
  redis.call('HDEL', KEYS[4], unpack(ARGV, i, last))
end
return written
)lua";

// KEYS: [1] unacked  [2] unacked_index  [3] target list  [4] the holder's
//       held set
// ARGV: [1] tag  [2] the unacked entry the caller read  [3] payload to push
//       [4] 'RPUSH' (front of the queue: kombu's restore) or 'LPUSH' (back:
//       kombu's reject with requeue)
// Reply: 1 when moved, 0 when the entry changed or vanished meanwhile
//       (someone else acked or restored it: nothing to do).
const std::string_view restore_one = R"lua(
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call(ARGV[4], KEYS[3], ARGV[3])
return 1
)lua";

// KEYS: [1] unacked  [2] unacked_index  [3] the holder's held set
//       [4] the queue's delayed set (celeriac.delayed.<queue>)
// ARGV: [1] tag  [2] score (unix seconds when to move it back)  [3] member
//       ("<priority step>\n<envelope>")
// Reply: 1 when moved, 0 when the entry was no longer in unacked (acked or
//       restored meanwhile: nothing to do).
// Leaving unacked and entering the delayed set is one step, so a message is
// always in exactly one of the two, whatever dies when.
const std::string_view defer = R"lua(
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
return 1
)lua";

// KEYS: [1] a queue's delayed set  [2] the queue's base list
// ARGV: [1] now (unix seconds)  [2] most members to move
// Reply: {moved, score of the next member still waiting or ""}.
// Each due member leaves the set and goes to the FRONT of its priority
// list (RPUSH: consumers pop right) in the same script, so whichever worker
// runs it first moves it, exactly once.
const std::string_view promote = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local nl = string.find(member, '\n', 1, true)
  if nl then
    local step = string.sub(member, 1, nl - 1)
    local list = KEYS[2]
    if step ~= '0' and step ~= '' then list = list .. '\006\022' .. step end
    redis.call('RPUSH', list, string.sub(member, nl + 1))
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, nxt[2] or ''}
)lua";

// KEYS: [1] lock key  ARGV: [1] token. Reply: 1 released, 0 not ours.
const std::string_view release_lock = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

}  // namespace celeriac::broker::lua
