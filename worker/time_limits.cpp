#include "worker/time_limits.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace celeriac::worker {
namespace {

// A limit of zero or less, or not a number, means "none" (Celery treats a
// falsy limit as unset).
std::optional<double> positive(std::optional<double> v) {
  if (v && *v > 0) return v;
  return std::nullopt;
}

std::optional<double> first_of(std::optional<double> a, std::optional<double> b, std::optional<double> c) {
  if (auto x = positive(a)) return x;
  if (auto x = positive(b)) return x;
  return positive(c);
}

constexpr double longest_limit_seconds = 1e9;  // ~31 years, far inside steady_clock's range

}  // namespace

time_limits resolve_time_limits(const celery::task_message& m, const app::task_options& task,
                                const worker_settings& settings) {
  return {first_of(m.time_limit(), task.time_limit, settings.time_limit),
          first_of(m.soft_time_limit(), task.soft_time_limit, settings.soft_time_limit)};
}

std::optional<std::chrono::steady_clock::time_point> deadline_after(std::chrono::steady_clock::time_point start,
                                                                    std::optional<double> seconds) {
  if (!positive(seconds)) return std::nullopt;
  const std::chrono::duration<double> limit(std::min(*seconds, longest_limit_seconds));
  return start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
}

celery::result_meta failure_meta_with_args(std::string task_id, std::string_view exc_type, json::array exc_args,
                                           std::string_view exc_module, std::optional<std::string> traceback,
                                           celery::meta_context ctx) {
  celery::result_meta m =
      celery::failure_meta(std::move(task_id), exc_type, "", exc_module, std::move(traceback), std::move(ctx));
  if (json::value* args = m.result.find("exc_message")) *args = std::move(exc_args);
  return m;
}

celery::result_meta time_limit_exceeded_meta(std::string task_id, double seconds,
                                             std::optional<std::string> traceback, celery::meta_context ctx) {
  return failure_meta_with_args(std::move(task_id), "TimeLimitExceeded", json::array{seconds}, "billiard.exceptions",
                                std::move(traceback), std::move(ctx));
}

namespace {

std::string seconds_field(const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string(); }

std::optional<double> read_seconds(std::string_view field, bool& ok) {
  if (field.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  ok = ok && ec == std::errc() && end == field.data() + field.size();
  return v;
}

}  // namespace

std::string encode_time_limit_overrides(const time_limit_overrides& limits) {
  std::string out;
  for (const auto& [task, l] : limits) out += fmt::format("{}\t{}\t{}\n", task, seconds_field(l.soft), seconds_field(l.hard));
  return out;
}

time_limit_overrides decode_time_limit_overrides(std::string_view text) {
  time_limit_overrides out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    const auto t1 = line.find('\t');
    const auto t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos || t1 == 0) continue;
    bool ok = true;
    time_limits l;
    l.soft = read_seconds(line.substr(t1 + 1, t2 - t1 - 1), ok);
    l.hard = read_seconds(line.substr(t2 + 1), ok);
    if (ok) out[std::string(line.substr(0, t1))] = l;
  }
  return out;
}

}  // namespace celeriac::worker
