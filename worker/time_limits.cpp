#include "worker/time_limits.hpp"

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

}  // namespace

time_limits resolve_time_limits(const celery::task_message& m, const app::task_options& task,
                                const worker_settings& settings) {
  return {first_of(m.time_limit(), task.time_limit, settings.time_limit),
          first_of(m.soft_time_limit(), task.soft_time_limit, settings.soft_time_limit)};
}

}  // namespace celeriac::worker
