#include "limiter/limiter.hpp"

#include <algorithm>
#include <random>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "redis/script.hpp"
#include "util/uuid.hpp"

namespace celeriac::limiter {
namespace {

namespace asio = boost::asio;

// KEYS: per limit, its log, amounts and sum keys. ARGV[1] the charge id,
// then per limit: amount allowed, window (ms), cost. Returns {1, 0} when
// every limit took its cost, else {0, ms to wait, index of the limit short}.
const redis::script charge_script{R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local n = #KEYS / 3
local wait, short = 0, 0
local function prune(log, amounts, sum, window)
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', now - window, 'LIMIT', 0, 1000)
  if #old > 0 then
    local freed = 0
    while #old > 0 do
      local vals = redis.call('HMGET', amounts, unpack(old))
      for _, v in ipairs(vals) do freed = freed + (tonumber(v) or 0) end
      redis.call('ZREM', log, unpack(old))
      redis.call('HDEL', amounts, unpack(old))
      old = redis.call('ZRANGEBYSCORE', log, '-inf', now - window, 'LIMIT', 0, 1000)
    end
    if redis.call('ZCARD', log) == 0 then
      redis.call('DEL', sum, amounts)
    else
      redis.call('INCRBYFLOAT', sum, -freed)
    end
  end
  return tonumber(redis.call('GET', sum) or '0')
end
for i = 1, n do
  local log, amounts, sum = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local allowed, window, cost = tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1])
  local used = prune(log, amounts, sum, window)
  if cost > 0 and used + cost > allowed and redis.call('ZCARD', log) > 0 then
    -- The wait: until enough of the oldest charges have left the window.
    local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
    local need, freed, w = used + cost - allowed, 0, window
    for j = 1, #entries, 2 do
      freed = freed + (tonumber(redis.call('HGET', amounts, entries[j])) or 0)
      if freed >= need then
        w = tonumber(entries[j+1]) + window - now + 1
        break
      end
    end
    if w > wait then wait, short = w, i end
  end
end
if wait > 0 then return {0, wait, short} end
for i = 1, n do
  local log, amounts, sum = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local window, cost = tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1])
  if cost ~= 0 then
    redis.call('ZADD', log, now, id)
    redis.call('HSET', amounts, id, cost)
    redis.call('INCRBYFLOAT', sum, cost)
  end
  redis.call('PEXPIRE', log, window + 1000)
  redis.call('PEXPIRE', amounts, window + 1000)
  redis.call('PEXPIRE', sum, window + 1000)
end
return {1, 0, 0}
)lua"};

// KEYS: the limit's log, amounts and sum; ARGV: id, delta.
const redis::script adjust_script{R"lua(
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('HINCRBYFLOAT', KEYS[2], ARGV[1], ARGV[2])
  redis.call('INCRBYFLOAT', KEYS[3], ARGV[2])
end
return 1
)lua"};

std::vector<std::string> keys_of(const limit& l) {
  const std::string tag = fmt::format("{{{}}}", l.key);
  return {tag + ":log", tag + ":amounts", tag + ":sum"};
}

std::string number(double v) { return fmt::format("{}", v); }

std::int64_t integer_at(const resp::value& reply, std::size_t i) {
  auto items = reply.elements();
  if (!items || items->size() <= i) return 0;
  auto v = (*items)[i].as_integer();
  return v ? *v : 0;
}

}  // namespace

asio::awaitable<decision> async_try_charge(redis::connection& conn, std::span<const charge> charges) {
  std::vector<std::string> keys;
  std::vector<std::string> args;
  decision d;
  d.id = util::uuid4();
  args.push_back(d.id);
  for (const charge& c : charges) {
    for (auto& k : keys_of(*c.lim)) keys.push_back(std::move(k));
    args.push_back(number(c.lim->amount_per_window));
    args.push_back(std::to_string(c.lim->window.count()));
    args.push_back(number(c.amount));
  }
  resp::value reply = co_await redis::async_eval(conn, charge_script, keys, args);
  if (reply.is_error())
    throw std::runtime_error(fmt::format("the rate limit script failed in Redis: {}",
                                         reply.as_string() ? std::string(*reply.as_string()) : "error"));
  d.granted = integer_at(reply, 0) == 1;
  d.retry_after = std::chrono::milliseconds(integer_at(reply, 1));
  if (!d.granted) {
    const auto shortest = static_cast<std::size_t>(integer_at(reply, 2));
    d.id = shortest >= 1 && shortest <= charges.size() ? charges[shortest - 1].lim->key : std::string();
  }
  co_return d;
}

asio::awaitable<std::string> async_acquire(redis::connection& conn, std::span<const charge> charges,
                                           std::chrono::steady_clock::time_point deadline) {
  thread_local std::mt19937 rng{std::random_device{}()};
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    decision d = co_await async_try_charge(conn, charges);
    if (d.granted) co_return d.id;
    // A little jitter, so waiters released by one expiry do not all
    // arrive at once.
    auto wait = d.retry_after + std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 25)(rng));
    if (std::chrono::steady_clock::now() + wait > deadline)
      throw deadline_exceeded(fmt::format("rate limit {} had no room before the deadline (next room in {} ms)", d.id,
                                          d.retry_after.count()));
    timer.expires_after(wait);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> async_adjust(redis::connection& conn, const limit& lim, const std::string& id, double delta) {
  if (delta == 0) co_return;
  std::vector<std::string> keys = keys_of(lim);
  std::vector<std::string> args{id, number(delta)};
  resp::value reply = co_await redis::async_eval(conn, adjust_script, keys, args);
  if (reply.is_error())
    throw std::runtime_error(fmt::format("the rate limit adjust script failed in Redis: {}",
                                         reply.as_string() ? std::string(*reply.as_string()) : "error"));
}

}  // namespace celeriac::limiter
