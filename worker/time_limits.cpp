#include "worker/time_limits.hpp"

#include <algorithm>

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

}  // namespace celeriac::worker
