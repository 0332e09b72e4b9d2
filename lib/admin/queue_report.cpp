#include "admin/queue_report.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "admin/keys.hpp"
#include "celery/kombu_redis.hpp"
#include "json/dump.hpp"
#include "util/clock.hpp"

namespace celeriac::admin {

std::int64_t queue_stats::waiting() const noexcept {
  return std::accumulate(waiting_by_step.begin(), waiting_by_step.end(), std::int64_t{0});
}

std::optional<std::string> queue_of_binding(std::string_view key, std::string_view member) {
  if (!key.starts_with(binding_prefix)) return std::nullopt;
  const std::string_view exchange = key.substr(binding_prefix.size());
  if (exchange.ends_with(".pidbox") || exchange == "celeryev") return std::nullopt;
  const auto first = member.find(celery::kombu_sep);
  const auto last = member.rfind(celery::kombu_sep);
  if (first == std::string_view::npos || first == last) return std::nullopt;
  const std::string_view queue = member.substr(last + celery::kombu_sep.size());
  if (queue.empty()) return std::nullopt;
  return std::string(queue);
}

std::string human_duration(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(seconds, 0.0)));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
}

std::string describe_due(double due, double now) {
  // iso8601_utc gives "2026-11-22T03:25:22[.ffffff]+00:00"; seconds are enough here.
  std::string when = util::iso8601_utc(util::from_unix_seconds(due)).substr(0, 19);
  when[10] = ' ';
  if (due >= now) return fmt::format("{} UTC (in {})", when, human_duration(due - now));
  return fmt::format("{} UTC ({} ago)", when, human_duration(now - due));
}

std::string format_queue_table(std::span<const queue_stats> queues, double now) {
  std::size_t width = std::string_view("QUEUE").size();
  for (const auto& q : queues) width = std::max(width, q.queue.size());
  std::string out = fmt::format("{:<{}}  {:>8}  {:>8}  {:>8}  {}\n", "QUEUE", width, "WAITING", "UNACKED", "DELAYED",
                                "NEXT DUE");
  for (const auto& q : queues) {
    const std::string next = q.next_due ? describe_due(*q.next_due, now) : "-";
    out += fmt::format("{:<{}}  {:>8}  {:>8}  {:>8}  {}\n", q.queue, width, q.waiting(), q.unacked, q.delayed, next);
  }
  return out;
}

std::string format_queue_json(const queue_stats& q) {
  // Written directly: numbers and one string need no json::value tree.
  std::string out = "{\"queue\": ";
  json::dump_string_to(out, q.queue);
  out += fmt::format(", \"waiting\": {}, \"waiting_by_priority\": {{", q.waiting());
  for (std::size_t i = 0; i < q.waiting_by_step.size(); ++i)
    out += fmt::format("{}\"{}\": {}", i ? ", " : "", celery::priority_steps[i], q.waiting_by_step[i]);
  out += fmt::format("}}, \"unacked\": {}, \"delayed\": {}, \"next_due\": ", q.unacked, q.delayed);
  if (q.next_due)
    json::dump_double_to(out, *q.next_due);
  else
    out += "null";
  return out + "}";
}

}  // namespace celeriac::admin
