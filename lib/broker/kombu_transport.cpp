#include "broker/kombu_transport.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "broker/delayed.hpp"
#include "broker/lua_scripts.hpp"
#include "celery/dead_letter.hpp"
#include "celery/kombu_redis.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/uuid.hpp"

namespace celeriac::broker {
namespace {

using boost::asio::awaitable;

constexpr std::string_view unacked_key = "unacked";
constexpr std::string_view index_key = "unacked_index";
constexpr std::string_view mutex_key = "unacked_mutex";
// kombu holds unacked_mutex for up to 300 s; a restorer killed while
// holding it would then stall every restore for five minutes. Restores are
// compare-and-set per message (restore_one), so two overlapping restorers
// are harmless, and a lock that expires with the visibility timeout is safe.
std::chrono::milliseconds mutex_ttl(std::chrono::seconds visibility_timeout) {
  return std::clamp<std::chrono::milliseconds>(visibility_timeout, std::chrono::seconds(5), std::chrono::seconds(300));
}

const redis::script& fetch_script() {
  static const redis::script s{std::string(lua::fetch)};
  return s;
}
const redis::script& complete_script() {
  static const redis::script s{std::string(lua::complete)};
  return s;
}
const redis::script& restore_script() {
  static const redis::script s{std::string(lua::restore_one)};
  return s;
}
const redis::script& defer_script() {
  static const redis::script s{std::string(lua::defer)};
  return s;
}
const redis::script& promote_script() {
  static const redis::script s{std::string(lua::promote)};
  return s;
}
const redis::script& release_script() {
  static const redis::script s{std::string(lua::release_lock)};
  return s;
}

// Scripts take the held set's key unconditionally; a transport that keeps
// none passes a key that is never written (SREM on it does nothing).
constexpr std::string_view no_held_set = "celeriac.held.none";

std::string binding_key(std::string_view queue) { return fmt::format("_kombu.binding.{}", queue); }

std::string score_text(double unix_seconds) { return fmt::format("{:.6f}", unix_seconds); }

// Throws a system_error-free runtime_error for a Redis error reply where
// none is expected: these mean a bug or a misconfigured server (e.g. a
// key of the wrong type), never a transient condition.
void check_reply(const resp::value& v, std::string_view what) {
  if (v.is_error())
    throw std::runtime_error(fmt::format("Redis refused {}: {}", what, v.error_message()));
}

}  // namespace

std::string kombu_transport::held_key_or_placeholder() const {
  return config_.held_key.empty() ? std::string(no_held_set) : config_.held_key;
}

kombu_transport::kombu_transport(redis::connection& conn, transport_config config)
    : conn_(conn), config_(std::move(config)) {
  if (config_.queues.empty()) throw std::invalid_argument("a transport needs at least one queue to consume");
}

void kombu_transport::set_queues(std::vector<queue_name> queues) {
  if (queues.empty()) throw std::invalid_argument("a transport needs at least one queue to consume");
  config_.queues = std::move(queues);
  rotation_ = 0;
}

awaitable<void> kombu_transport::async_declare() {
  redis::request req;
  for (const auto& q : config_.queues) req.push("SADD", binding_key(q.str()), celery::binding_member(q.str()));
  auto replies = co_await conn_.async_exec(req);
  for (const auto& r : replies) check_reply(r, "declaring a queue binding");
}

std::vector<std::string> kombu_transport::watched_lists() const {
  // kombu's BRPOP key order: grouped by priority step ascending, all
  // queues within a step, starting at the round-robin position.
  std::vector<std::string> lists;
  const std::size_t n = config_.queues.size();
  lists.reserve(n * celery::priority_steps.size());
  for (auto step : celery::priority_steps)
    for (std::size_t i = 0; i < n; ++i)
      lists.push_back(celery::queue_for_priority(config_.queues[(rotation_ + i) % n].str(), step));
  return lists;
}

awaitable<resp::value> kombu_transport::async_run_script(const redis::script& s, const std::vector<std::string>& keys,
                                                         const std::vector<std::string>& args) {
  co_return co_await redis::async_eval(conn_, s, keys, args);
}

awaitable<std::vector<fetched_message>> kombu_transport::async_fetch(std::size_t max) {
  if (max == 0) co_return std::vector<fetched_message>{};
  auto [keys, args] = fetch_call(max, fetch_clock::client);
  resp::value reply = co_await async_run_script(fetch_script(), keys, args);
  co_return read_fetch(reply);
}

awaitable<void> kombu_transport::async_load_fetch_script() { co_await redis::async_load(conn_, fetch_script()); }

void kombu_transport::add_fetch(redis::request& req, std::size_t max, fetch_clock clock) const {
  auto [keys, args] = fetch_call(max, clock);
  redis::push_evalsha(req, fetch_script(), keys, args);
}

kombu_transport::script_call kombu_transport::fetch_call(std::size_t max, fetch_clock clock) const {
  auto lists = watched_lists();
  const std::size_t n = config_.queues.size();
  script_call call;
  call.keys = {std::string(unacked_key), std::string(index_key), config_.dead_letter_key, held_key_or_placeholder()};
  call.args = {std::to_string(max), "", "", config_.held_key.empty() ? "0" : "1"};
  // The dead-letter time (args[2]) stays "": the script formats it from
  // args[1] in the rare fetch that needs one.
  if (clock == fetch_clock::client) call.args[1] = score_text(util::unix_seconds(util::wall_now()));
  for (std::size_t k = 0; k < lists.size(); ++k) {
    call.keys.push_back(lists[k]);
    call.args.push_back(config_.queues[(rotation_ + k % n) % n].str());
  }
  return call;
}

std::vector<fetched_message> kombu_transport::read_fetch(resp::value& reply) {
  std::vector<fetched_message> out;
  const std::size_t n = config_.queues.size();
  check_reply(reply, "the fetch script");
  auto elems = reply.elements();
  if (!elems) throw std::runtime_error("the fetch script returned something other than an array");
  auto items = *elems;
  out.reserve(items.size() / 2);
  for (std::size_t i = 0; i < items.size();) {
    if (i + 1 == items.size()) throw std::runtime_error("the fetch script returned a malformed group");
    auto queue = items[i].as_string();
    auto count = items[i + 1].as_integer();
    if (!queue || !count || *count < 0 || items.size() - i - 2 < 2 * static_cast<std::size_t>(*count))
      throw std::runtime_error("the fetch script returned a malformed group");
    auto q = queue_name::make(*queue);
    if (!q) throw std::runtime_error("the fetch script returned an invalid queue name");
    i += 2;
    for (std::int64_t k = 0; k < *count; ++k, i += 2) {
      if (!items[i].is_string() || !items[i + 1].is_string())
        throw std::runtime_error("the fetch script returned a malformed entry");
      // Moved out of the reply, not copied: the envelope is most of it.
      std::string tag = items[i].take_text();
      auto state = tag.empty() ? fetched_message::status::dead_lettered : fetched_message::status::held;
      out.push_back(fetched_message{state, *q, std::move(tag), items[i + 1].take_text()});
    }
  }
  // Round-robin: the queue that just delivered moves to the end, as
  // kombu's cycle does; with one queue this is a no-op.
  if (!out.empty() && n > 1) {
    auto last = std::find(config_.queues.begin(), config_.queues.end(), out.back().queue);
    if (last != config_.queues.end())
      rotation_ = (static_cast<std::size_t>(last - config_.queues.begin()) + 1) % n;
  }
  return out;
}

awaitable<void> kombu_transport::async_complete(const std::vector<result_write>& results,
                                                const std::vector<std::string>& tags,
                                                std::chrono::seconds result_ttl) {
  if (results.empty() && tags.empty()) co_return;
  std::vector<std::string> keys{std::string(unacked_key), std::string(index_key), held_key_or_placeholder(),
                                config_.deliveries_key};
  std::vector<std::string> args{std::to_string(result_ttl.count()), std::to_string(results.size())};
  keys.reserve(4 + results.size());
  args.reserve(2 + results.size() + tags.size());
  for (const auto& r : results) {
    keys.push_back(r.key);
    args.push_back(r.meta);
  }
  args.insert(args.end(), tags.begin(), tags.end());
  resp::value reply = co_await async_run_script(complete_script(), keys, args);
  check_reply(reply, "the complete script (result store + ack)");
}

awaitable<void> kombu_transport::async_touch(const std::vector<std::string>& tags) {
  if (tags.empty()) co_return;
  std::string score = score_text(util::unix_seconds(util::wall_now()));
  redis::request req;
  std::vector<std::string_view> args;
  args.reserve(tags.size() * 2 + 1);
  args.push_back("XX");
  for (const auto& t : tags) {
    args.push_back(score);
    args.push_back(t);
  }
  req.push("ZADD", index_key, args);
  // A held set outlives its child only when the whole host died; it then
  // expires instead of lingering (kombu's restore_visible brings those
  // messages back).
  if (!config_.held_key.empty())
    req.push("EXPIRE", config_.held_key, std::max<std::int64_t>(60, 2 * config_.visibility_timeout.count()));
  auto replies = co_await conn_.async_exec(req);
  check_reply(replies.at(0), "refreshing unacked_index scores");
}

awaitable<bool> kombu_transport::async_restore(const std::string& tag, bool to_back) {
  co_return co_await async_move_back(tag, to_back, true);
}

awaitable<bool> kombu_transport::async_hand_back(const std::string& tag) {
  co_return co_await async_move_back(tag, false, false);
}

awaitable<bool> kombu_transport::async_move_back(const std::string& tag, bool to_back, bool flag_redelivered) {
  redis::request get;
  get.push("HGET", unacked_key, tag);
  auto replies = co_await conn_.async_exec(get);
  check_reply(replies.at(0), "reading an unacked entry");
  if (replies[0].is_nil()) {
    // kombu removes a dangling index entry the same way.
    redis::request rm;
    rm.push("ZREM", index_key, tag);
    co_await conn_.async_exec(rm);
    co_return false;
  }
  std::string entry(*replies[0].as_string());
  auto parsed = celery::parse_unacked_entry(entry);
  if (!parsed) {
    log::error("unacked entry {} is not kombu's [payload, exchange, routing_key]: moving it to {}", tag,
               config_.dead_letter_key);
    redis::request dead;
    dead.push("LPUSH", config_.dead_letter_key,
              celery::dead_letter_entry("bad_unacked_entry", "unacked entry is not valid JSON", "",
                                        util::wall_now(), entry));
    dead.push("HDEL", unacked_key, tag).push("ZREM", index_key, tag);
    co_await conn_.async_exec(dead);
    co_return false;
  }
  // kombu's _lookup(exchange, routing_key): for the anonymous exchange,
  // which is all Celery task messages use, the queue is the routing key.
  const std::string& target = parsed->routing_key;
  std::string payload = parsed->payload;
  if (flag_redelivered)
    if (auto redelivered = celery::mark_redelivered(parsed->payload)) payload = std::move(*redelivered);
  // Named vectors, not braced lists: g++ 12 miscompiles initializer lists
  // inside co_await expressions.
  std::vector<std::string> keys{std::string(unacked_key), std::string(index_key), target, held_key_or_placeholder()};
  std::vector<std::string> args{tag, entry, payload, to_back ? "LPUSH" : "RPUSH"};
  resp::value moved = co_await async_run_script(restore_script(), keys, args);
  check_reply(moved, "the restore script");
  auto n = moved.as_integer();
  co_return n && *n == 1;
}

awaitable<bool> kombu_transport::async_defer(const std::string& tag, const queue_name& queue, int priority,
                                             const std::string& envelope, double due) {
  std::vector<std::string> keys{std::string(unacked_key), std::string(index_key), held_key_or_placeholder(),
                                delayed_key(queue)};
  std::vector<std::string> args{tag, score_text(due), delayed_member(priority, envelope)};
  resp::value moved = co_await async_run_script(defer_script(), keys, args);
  check_reply(moved, "the defer script");
  auto n = moved.as_integer();
  co_return n && *n == 1;
}

awaitable<kombu_transport::promote_result> kombu_transport::async_promote(double now, std::size_t max_per_queue) {
  promote_result out;
  for (const auto& q : config_.queues) {
    std::vector<std::string> keys{delayed_key(q), q.str()};
    std::vector<std::string> args{score_text(now), std::to_string(max_per_queue)};
    resp::value reply = co_await async_run_script(promote_script(), keys, args);
    check_reply(reply, "the promote script");
    auto elems = reply.elements();
    if (!elems || elems->size() != 2) throw std::runtime_error("the promote script returned something unexpected");
    if (auto n = (*elems)[0].as_integer()) out.moved += static_cast<std::size_t>(*n);
    if (auto next = (*elems)[1].as_string(); next && !next->empty()) {
      double d = std::stod(std::string(*next));
      if (!out.next_due || d < *out.next_due) out.next_due = d;
    }
  }
  co_return out;
}

awaitable<std::size_t> kombu_transport::async_restore_visible() {
  std::string token = util::uuid4();
  redis::request lock;
  lock.push("SET", mutex_key, token, "PX", mutex_ttl(config_.visibility_timeout).count(), "NX");
  auto got = co_await conn_.async_exec(lock);
  check_reply(got.at(0), "taking unacked_mutex");
  if (got[0].is_nil()) co_return 0;  // another worker is restoring

  std::size_t restored = 0;
  std::exception_ptr failure;
  try {
    double ceiling = util::unix_seconds(util::wall_now()) - static_cast<double>(config_.visibility_timeout.count());
    redis::request scan;
    scan.push("ZREVRANGEBYSCORE", index_key, score_text(ceiling), 0, "WITHSCORES");
    auto replies = co_await conn_.async_exec(scan);
    check_reply(replies.at(0), "scanning unacked_index");
    std::vector<std::string> stale;
    if (auto elems = replies[0].elements())
      for (std::size_t i = 0; i + 1 < elems->size(); i += 2) stale.emplace_back(*(*elems)[i].as_string());
    for (const auto& tag : stale) {
      bool moved = co_await async_restore(tag);
      if (moved) ++restored;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  try {
    std::vector<std::string> keys{std::string(mutex_key)}, args{token};
    co_await async_run_script(release_script(), keys, args);
  } catch (...) {
    // The lock expires on its own after mutex_ttl.
  }
  if (failure) std::rethrow_exception(failure);
  co_return restored;
}

void kombu_transport::add_publish(redis::request& req, const queue_name& queue, int priority,
                                  const std::string& envelope) {
  if (std::find(declared_.begin(), declared_.end(), queue.str()) == declared_.end()) {
    req.push("SADD", binding_key(queue.str()), celery::binding_member(queue.str()));
    declared_.push_back(queue.str());
  }
  req.push("LPUSH", celery::queue_for_priority(queue.str(), priority), envelope);
}

void kombu_transport::add_delayed_publish(redis::request& req, const queue_name& queue, int priority,
                                          const std::string& envelope, double due) {
  if (std::find(declared_.begin(), declared_.end(), queue.str()) == declared_.end()) {
    req.push("SADD", binding_key(queue.str()), celery::binding_member(queue.str()));
    declared_.push_back(queue.str());
  }
  req.push("ZADD", delayed_key(queue), score_text(due), delayed_member(priority, envelope));
}

awaitable<void> kombu_transport::async_publish(const queue_name& queue, int priority, const std::string& envelope) {
  redis::request req;
  add_publish(req, queue, priority, envelope);
  auto replies = co_await conn_.async_exec(req);
  for (const auto& r : replies) check_reply(r, fmt::format("publishing to queue {}", queue.str()));
}

awaitable<void> kombu_transport::async_dead_letter(const std::string& entry) {
  redis::request req;
  req.push("LPUSH", config_.dead_letter_key, entry);
  auto replies = co_await conn_.async_exec(req);
  check_reply(replies.at(0), "writing the dead-letter list");
}

}  // namespace celeriac::broker
