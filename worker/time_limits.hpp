#pragma once
// The time limits a message runs under, most specific first: the message
// header `timelimit: [hard, soft]` (Celery's apply_async(time_limit=,
// soft_time_limit=)), then the task's registration defaults, then the
// worker's --time-limit / --soft-time-limit. Each of hard and soft is
// resolved on its own, as Celery does (a null header element defers to the
// next source). Pure.

#include <optional>

#include "app/task_registry.hpp"
#include "celery/task_message.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

struct time_limits {
  std::optional<double> hard;  // seconds
  std::optional<double> soft;
};

time_limits resolve_time_limits(const celery::task_message& m, const app::task_options& task,
                                const worker_settings& settings);

}  // namespace celeriac::worker
