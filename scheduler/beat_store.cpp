#include "scheduler/beat_store.hpp"

#include <charconv>
#include <utility>

#include <fmt/format.h>

#include "redis/script.hpp"
#include "redis/timeout.hpp"

namespace celeriac::scheduler {

namespace asio = boost::asio;

namespace {

// ---- Scripts -----------------------------------------------------------
//
// Ticks are whole unix seconds (about 1.8e9 today), exact in Lua's doubles
// and returned to us as integers.

// KEYS[1] lease; ARGV[1] token, ARGV[2] lease ms.
// Returns {1, 0, token} when we hold the lease now, else {0, pttl, holder}.
const redis::script acquire_script{R"lua(
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, 0, ARGV[1]}
end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, 0, holder}
end
return {0, redis.call('PTTL', KEYS[1]), holder or ''}
)lua"};

// KEYS[1] lease; ARGV[1] token, ARGV[2] lease ms. 1 = renewed, 0 = not ours.
const redis::script renew_script{R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua"};

// KEYS[1] lease; ARGV[1] token. 1 = released, 0 = not ours.
const redis::script release_script{R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua"};

// KEYS[1] lease, KEYS[2] last hash, KEYS[3] fingerprint hash;
// ARGV[1] token, ARGV[2] entry, ARGV[3] fingerprint, ARGV[4] now.
// Returns {-1, 0} when not the leader, else {origin, last} with origin
// 0 known, 1 added, 2 changed.
const redis::script sync_script{R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-1, 0} end
local last = redis.call('HGET', KEYS[2], ARGV[2])
local stored = last and tonumber(last)
if stored and redis.call('HGET', KEYS[3], ARGV[2]) == ARGV[3] then return {0, stored} end
local start = tonumber(ARGV[4])
if stored and stored > start then start = stored end
redis.call('HSET', KEYS[2], ARGV[2], string.format('%d', start))
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
if last then return {2, start} end
return {1, start}
)lua"};

// KEYS[1] lease, KEYS[2] last hash, KEYS[3] fingerprint hash;
// ARGV[1] token, ARGV[2..] entries to keep.
// Returns -1 when not the leader, else the removed entry names.
const redis::script forget_script{R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local keep = {}
for i = 2, #ARGV do keep[ARGV[i]] = true end
local removed = {}
for _, name in ipairs(redis.call('HKEYS', KEYS[2])) do
  if not keep[name] then
    redis.call('HDEL', KEYS[2], name)
    removed[#removed + 1] = name
  end
end
for _, name in ipairs(redis.call('HKEYS', KEYS[3])) do
  if not keep[name] then redis.call('HDEL', KEYS[3], name) end
end
return removed
)lua"};

// KEYS[1] lease, KEYS[2] last hash, KEYS[3] queue list, KEYS[4] binding set;
// ARGV[1] token, ARGV[2] entry, ARGV[3] tick, ARGV[4] message ('' = record
// only), ARGV[5] binding member.
// Returns -1 not the leader, 0 already fired, 1 claimed.
const redis::script claim_script{R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local stored = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '')
if stored and stored >= tonumber(ARGV[3]) then return 0 end
if ARGV[4] ~= '' then
  redis.call('SADD', KEYS[4], ARGV[5])
  redis.call('LPUSH', KEYS[3], ARGV[4])
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
)lua"};

const redis::script* const all_scripts[] = {&acquire_script, &renew_script, &release_script,
                                            &sync_script,    &forget_script, &claim_script};

std::string unix_text(std::chrono::sys_seconds t) { return std::to_string(t.time_since_epoch().count()); }

// The integer element i of an array reply; throws naming `what`.
std::int64_t integer_at(const resp::value& reply, std::size_t i, std::string_view what) {
  auto elements = reply.elements();
  if (!elements || elements->size() <= i || !(*elements)[i].is_integer()) {
    throw beat_store_error(fmt::format("beat's {} script returned {}, not the expected array of integers", what,
                                       reply.to_debug_string()));
  }
  return *(*elements)[i].as_integer();
}

// The integer of `reply`, or `fallback` if it is not one.
std::int64_t integer_or(const resp::value& reply, std::int64_t fallback) {
  auto n = reply.as_integer();
  return n ? *n : fallback;
}

// Throws beat_store_error if `reply` is an error, naming the operation and key.
void check_reply(const resp::value& reply, std::string_view what, std::string_view key) {
  if (reply.is_error()) {
    throw beat_store_error(fmt::format("Redis refused beat's {} on {}: {}", what, key, reply.error_message()));
  }
}

}  // namespace

beat_store::beat_store(redis::connection& conn, beat_keys keys, std::string token, std::chrono::milliseconds lease,
                       std::chrono::milliseconds timeout)
    : conn_(conn), keys_(std::move(keys)), token_(std::move(token)), lease_(lease), timeout_(timeout) {}

asio::awaitable<std::vector<resp::value>> beat_store::async_exec_scripts(const redis::request& req,
                                                                         const redis::script& s) {
  auto first = conn_.async_exec(req);
  std::vector<resp::value> replies = co_await redis::async_with_timeout(std::move(first), timeout_);
  const bool missing = !replies.empty() && redis::is_noscript(replies.front());
  if (!missing) co_return replies;
  auto load = redis::async_load(conn_, s);
  co_await redis::async_with_timeout(std::move(load), timeout_);
  auto again = conn_.async_exec(req);
  replies = co_await redis::async_with_timeout(std::move(again), timeout_);
  co_return replies;
}

asio::awaitable<void> beat_store::async_load_scripts() {
  for (const redis::script* s : all_scripts) {
    auto load = redis::async_load(conn_, *s);
    co_await redis::async_with_timeout(std::move(load), timeout_);
  }
}

asio::awaitable<lease_attempt> beat_store::async_acquire() {
  redis::request req;
  const auto lease_ms = lease_.count();
  redis::push_evalsha(req, acquire_script, 1, keys_.lease, token_, lease_ms);
  auto replies = co_await async_exec_scripts(req, acquire_script);
  const resp::value& reply = replies.at(0);
  check_reply(reply, "lease acquire", keys_.lease);
  lease_attempt out;
  out.acquired = integer_at(reply, 0, "lease acquire") == 1;
  out.holder_ttl = std::chrono::milliseconds(integer_at(reply, 1, "lease acquire"));
  auto elements = reply.elements();
  if (elements && elements->size() > 2) {
    auto holder = (*elements)[2].as_string();
    if (holder) out.holder = std::string(*holder);
  }
  co_return out;
}

asio::awaitable<bool> beat_store::async_renew() {
  redis::request req;
  const auto lease_ms = lease_.count();
  redis::push_evalsha(req, renew_script, 1, keys_.lease, token_, lease_ms);
  auto replies = co_await async_exec_scripts(req, renew_script);
  check_reply(replies.at(0), "lease renewal", keys_.lease);
  co_return integer_or(replies[0], 0) == 1;
}

asio::awaitable<bool> beat_store::async_release() {
  redis::request req;
  redis::push_evalsha(req, release_script, 1, keys_.lease, token_);
  auto replies = co_await async_exec_scripts(req, release_script);
  check_reply(replies.at(0), "lease release", keys_.lease);
  co_return integer_or(replies[0], 0) == 1;
}

asio::awaitable<std::optional<entry_sync>> beat_store::async_sync(const std::string& entry,
                                                                  const std::string& fingerprint,
                                                                  std::chrono::sys_seconds now) {
  redis::request req;
  const std::string now_text = unix_text(now);
  redis::push_evalsha(req, sync_script, 3, keys_.lease, keys_.last, keys_.fingerprint, token_, entry, fingerprint,
                      now_text);
  auto replies = co_await async_exec_scripts(req, sync_script);
  check_reply(replies.at(0), "entry sync", keys_.last);
  const std::int64_t origin = integer_at(replies[0], 0, "entry sync");
  if (origin < 0) co_return std::nullopt;
  entry_sync out;
  out.origin = origin == 0 ? entry_origin::known : origin == 1 ? entry_origin::added : entry_origin::changed;
  out.last = std::chrono::sys_seconds(std::chrono::seconds(integer_at(replies[0], 1, "entry sync")));
  co_return out;
}

asio::awaitable<std::optional<std::vector<std::string>>> beat_store::async_forget_others(
    const std::vector<std::string>& keep) {
  redis::request req;
  redis::push_evalsha(req, forget_script, 3, keys_.lease, keys_.last, keys_.fingerprint, token_, keep);
  auto replies = co_await async_exec_scripts(req, forget_script);
  const resp::value& reply = replies.at(0);
  check_reply(reply, "removal of deleted entries", keys_.last);
  if (reply.is_integer()) co_return std::nullopt;  // -1: not the leader
  std::vector<std::string> removed;
  auto elements = reply.elements();
  if (elements) {
    for (const auto& e : *elements) {
      auto name = e.as_string();
      if (name) removed.emplace_back(*name);
    }
  }
  co_return removed;
}

asio::awaitable<std::vector<claim_result>> beat_store::async_claim(const std::vector<tick_claim>& claims) {
  std::vector<claim_result> results;
  if (claims.empty()) co_return results;
  redis::request req;
  for (const auto& c : claims) {
    const std::string tick = unix_text(c.tick);
    redis::push_evalsha(req, claim_script, 4, keys_.lease, keys_.last, c.list, c.binding_key, token_, c.entry, tick,
                        c.message, c.binding_member);
  }
  auto replies = co_await async_exec_scripts(req, claim_script);
  results.reserve(replies.size());
  for (const auto& r : replies) {
    claim_result out;
    if (r.is_error()) {
      out.error = std::string(r.error_message());
    } else {
      switch (integer_or(r, -2)) {
        case 1: out.outcome = claim_outcome::claimed; break;
        case 0: out.outcome = claim_outcome::already_fired; break;
        case -1: out.outcome = claim_outcome::not_leader; break;
        default: out.error = fmt::format("unexpected reply {}", r.to_debug_string()); break;
      }
    }
    results.push_back(std::move(out));
  }
  co_return results;
}

asio::awaitable<std::optional<std::chrono::sys_seconds>> beat_store::async_read_last(const std::string& entry) {
  redis::request req;
  req.push("HGET", keys_.last, entry);
  auto exec = conn_.async_exec(req);
  auto replies = co_await redis::async_with_timeout(std::move(exec), timeout_);
  check_reply(replies.at(0), "read of the last tick", keys_.last);
  if (replies[0].is_nil()) co_return std::nullopt;
  auto text = replies[0].as_string();
  long long v = 0;
  const bool parsed = text && std::from_chars(text->data(), text->data() + text->size(), v).ec == std::errc{};
  if (!parsed) {
    throw beat_store_error(fmt::format("{} holds \"{}\" for entry {}, not a unix time; delete the field to reset it",
                                       keys_.last, text ? *text : "", entry));
  }
  co_return std::chrono::sys_seconds(std::chrono::seconds(v));
}

}  // namespace celeriac::scheduler
