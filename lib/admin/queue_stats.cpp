#include "admin/queue_stats.hpp"

#include <algorithm>
#include <charconv>

#include "admin/keys.hpp"
#include "admin/redis_calls.hpp"
#include "admin/scripts.hpp"
#include "broker/delayed.hpp"
#include "celery/kombu_redis.hpp"

namespace celeriac::admin {
namespace {

constexpr int unacked_scan_count = 1000;  // HSCAN COUNT hint: bounded work per script call

std::string delayed_key_of(const std::string& queue) { return std::string(broker::delayed_prefix) + queue; }

script_call depth_call(const std::string& queue) {
  auto keys = celery::priority_lists(queue);
  keys.push_back(delayed_key_of(queue));
  return script_call{std::move(keys), {}};
}

std::optional<double> score_of(const resp::value& v) {
  auto text = v.as_string();
  if (!text) return std::nullopt;
  double d = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), d);
  if (ec != std::errc{} || end != text->data() + text->size()) return std::nullopt;
  return d;
}

queue_stats stats_of(std::string queue, const resp::value& reply, std::int64_t unacked) {
  auto parts = reply.elements();
  if (!parts || parts->size() != 6) throw redis_failure("unexpected reply to the queue depth script: " + reply.to_debug_string());
  queue_stats s{std::move(queue)};
  for (std::size_t i = 0; i < 4; ++i) s.waiting_by_step[i] = integer_reply((*parts)[i], "LLEN");
  s.delayed = integer_reply((*parts)[4], "ZCARD");
  s.next_due = score_of((*parts)[5]);
  s.unacked = unacked;
  return s;
}

std::vector<std::string> binding_queues(redis::sync_client& client) {
  const auto keys = scan_keys(client, std::string(binding_prefix) + "*");
  if (keys.empty()) return {};
  redis::request req;
  for (const auto& k : keys) req.push("SMEMBERS", k);
  auto replies = exec_checked(client, req, "SMEMBERS of kombu's binding sets");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto members = replies[i].elements();
    if (!members) continue;
    for (const auto& m : *members)
      if (auto q = queue_of_binding(keys[i], string_reply(m, "SMEMBERS"))) out.push_back(std::move(*q));
  }
  return out;
}

}  // namespace

std::map<std::string, std::int64_t> count_unacked(redis::sync_client& client) {
  std::map<std::string, std::int64_t> counts;
  std::string cursor = "0";
  do {
    script_call call{{std::string(celery::unacked_key)}, {cursor, std::to_string(unacked_scan_count)}};
    auto reply = eval(client, scripts::count_unacked_step, std::move(call), "counting unacked messages");
    auto parts = reply.elements();
    if (!parts || parts->empty() || parts->size() % 2 == 0)
      throw redis_failure("unexpected reply to the unacked count script: " + reply.to_debug_string());
    cursor = string_reply((*parts)[0], "HSCAN cursor");
    for (std::size_t i = 1; i + 1 < parts->size(); i += 2)
      counts[string_reply((*parts)[i], "routing key")] += integer_reply((*parts)[i + 1], "count");
  } while (cursor != "0");
  return counts;
}

std::vector<std::string> discover_queues(redis::sync_client& client,
                                         const std::map<std::string, std::int64_t>& unacked_counts) {
  std::vector<std::string> out = binding_queues(client);
  for (auto& key : scan_keys(client, std::string(broker::delayed_prefix) + "*"))
    if (key.size() > broker::delayed_prefix.size()) out.push_back(key.substr(broker::delayed_prefix.size()));
  for (const auto& [queue, n] : unacked_counts)
    if (!queue.empty()) out.push_back(queue);
  std::ranges::sort(out);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<queue_stats> read_queue_stats(redis::sync_client& client, const std::vector<broker::queue_name>& queues) {
  const auto unacked = count_unacked(client);
  std::vector<std::string> names;
  for (const auto& q : queues) names.push_back(q.str());
  if (names.empty()) names = discover_queues(client, unacked);
  std::vector<script_call> calls;
  for (const auto& n : names) calls.push_back(depth_call(n));
  auto replies = eval_each(client, scripts::queue_depth, calls, "reading queue depths");
  std::vector<queue_stats> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto it = unacked.find(names[i]);
    out.push_back(stats_of(names[i], replies[i], it == unacked.end() ? 0 : it->second));
  }
  return out;
}

}  // namespace celeriac::admin
