#include "broker/chord_store.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "broker/chord_scripts.hpp"
#include "celery/kombu_redis.hpp"
#include "celery/pidbox_message.hpp"
#include "redis/script.hpp"

namespace celeriac::broker {

using boost::asio::awaitable;

namespace {

const redis::script& join_script() {
  static const redis::script s{lua::chord_join};
  return s;
}

const redis::script& complete_script() {
  static const redis::script s{lua::chord_complete};
  return s;
}

void check(const resp::value& v, std::string_view what) {
  if (v.is_error()) throw std::runtime_error(fmt::format("Redis refused {}: {}", what, v.error_message()));
}

std::string text_of(const resp::value& v, std::string_view what) {
  auto s = v.as_string();
  if (!s) throw std::runtime_error(fmt::format("{}: expected a string, got {}", what, v.to_debug_string()));
  return std::string(*s);
}

}  // namespace

chord_store::chord_store(redis::connection& conn, std::chrono::seconds ttl) : conn_(conn), ttl_(ttl) {}

awaitable<chord_join_result> chord_store::async_join(const chord_join_write& w) {
  const std::vector<std::string> keys{w.keys.join, w.keys.extra, w.keys.size, w.keys.saved,
                                      w.meta ? w.meta->key : w.keys.join};
  const std::vector<std::string> args{std::to_string(ttl_.count()), w.member, w.score, w.member_prefix,
                                      w.meta ? w.meta->meta : std::string()};
  resp::value reply = co_await redis::async_eval(conn_, join_script(), keys, args);
  check(reply, fmt::format("joining chord {}", w.keys.saved));
  auto items = reply.elements();
  if (!items || items->empty()) throw std::runtime_error("the chord join script returned no status");
  auto state = (*items)[0].as_integer();
  if (!state) throw std::runtime_error("the chord join script returned a status that is not a number");
  chord_join_result r;
  if (*state == 0) co_return r;
  if (*state == 2) {
    r.state = chord_join_result::status::bad_size;
    r.size_text = items->size() > 1 ? text_of((*items)[1], "chord size") : std::string();
    co_return r;
  }
  if (items->size() != 3) throw std::runtime_error("the chord join script returned a malformed completion");
  r.state = chord_join_result::status::complete;
  if (std::string saved = text_of((*items)[1], "saved GroupResult"); !saved.empty()) r.saved = std::move(saved);
  auto members = (*items)[2].elements();
  if (!members) throw std::runtime_error("the chord join script returned members that are not a list");
  for (const auto& m : *members) r.members.push_back(text_of(m, "chord member"));
  co_return r;
}

awaitable<bool> chord_store::async_complete(const celery::chord_keys& keys, const chord_effects& effects) {
  std::vector<std::string> k{keys.join, keys.extra, keys.size};
  std::vector<std::string> a{std::to_string(ttl_.count())};
  auto add = [&](std::string key, std::string_view kind, std::string value) {
    k.push_back(std::move(key));
    a.emplace_back(kind);
    a.push_back(std::move(value));
  };
  for (const auto& [key, value] : effects.values) add(key, "value", value);
  for (const auto& m : effects.metas) add(m.key, "meta", m.meta);
  for (const auto& p : effects.publishes) {
    add(celery::exchange_binding_key(p.queue.str()), "bind", celery::binding_member(p.queue.str()));
    add(celery::queue_for_priority(p.queue.str(), p.priority), "push", p.envelope);
  }
  resp::value reply = co_await redis::async_eval(conn_, complete_script(), k, a);
  check(reply, fmt::format("completing chord {}", keys.saved));
  auto done = reply.as_integer();
  if (!done) throw std::runtime_error("the chord completion script returned something other than a number");
  co_return *done == 1;
}

awaitable<bool> chord_store::async_pending(const celery::chord_keys& keys) {
  redis::request req;
  req.push("EXISTS", keys.size);
  auto replies = co_await conn_.async_exec(req);
  check(replies.at(0), fmt::format("reading {}", keys.size));
  auto n = replies.at(0).as_integer();
  co_return n && *n > 0;
}

awaitable<void> chord_store::async_set_values(const std::vector<std::pair<std::string, std::string>>& values) {
  if (values.empty()) co_return;
  redis::request req;
  for (const auto& [key, value] : values) {
    if (ttl_.count() > 0)
      req.push("SETEX", key, ttl_.count(), value);
    else
      req.push("SET", key, value);
    req.push("PUBLISH", key, value);
  }
  auto replies = co_await conn_.async_exec(req);
  for (const auto& r : replies) check(r, "writing a chord's size");
}

awaitable<std::vector<std::optional<std::string>>> chord_store::async_read(const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out;
  if (keys.empty()) co_return out;
  redis::request req;
  req.push("MGET", keys);
  auto replies = co_await conn_.async_exec(req);
  check(replies.at(0), "reading the results of a chord's header");
  auto items = replies.at(0).elements();
  if (!items || items->size() != keys.size()) throw std::runtime_error("MGET returned the wrong number of values");
  for (const auto& v : *items) {
    auto s = v.as_string();
    out.push_back(s ? std::optional<std::string>(std::string(*s)) : std::nullopt);
  }
  co_return out;
}

}  // namespace celeriac::broker
