#pragma once
// The time limits a message runs under, most specific first: the message
// header `timelimit: [hard, soft]` (Celery's apply_async(time_limit=,
// soft_time_limit=)), then the task's registration defaults, then the
// worker's --time-limit / --soft-time-limit. Each of hard and soft is
// resolved on its own, as Celery does (a null header element defers to the
// next source). Both count from the start of the run. A soft limit at or
// above the hard one is kept as given: it simply never fires before the
// hard limit ends the run (Celery's billiard behaves the same). Pure.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "app/task_registry.hpp"
#include "celery/result_meta.hpp"
#include "celery/task_message.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

struct time_limits {
  std::optional<double> hard;  // seconds
  std::optional<double> soft;
};

time_limits resolve_time_limits(const celery::task_message& m, const app::task_options& task,
                                const worker_settings& settings);

// Remote `control time_limit` settings by task name, as the node keeps
// them in shared memory for children started later: one
// "name\tsoft\thard\n" line per task, an empty field for none. Lines that
// do not read are skipped.
using time_limit_overrides = std::map<std::string, time_limits, std::less<>>;
std::string encode_time_limit_overrides(const time_limit_overrides& limits);
time_limit_overrides decode_time_limit_overrides(std::string_view text);

// start + seconds, or nullopt for no limit. Limits beyond ~30 years are
// cut to that (a steady_clock time point cannot hold centuries).
std::optional<std::chrono::steady_clock::time_point> deadline_after(std::chrono::steady_clock::time_point start,
                                                                    std::optional<double> seconds);

// celery::failure_meta with the exception's own args in exc_message
// instead of [message]: Celery stores exc.args as they are, e.g. [] for
// SoftTimeLimitExceeded() and [5.0] for TimeLimitExceeded(5.0).
celery::result_meta failure_meta_with_args(std::string task_id, std::string_view exc_type, json::array exc_args,
                                           std::string_view exc_module, std::optional<std::string> traceback,
                                           celery::meta_context ctx);

// What Celery stores for a task its hard limit ended: FAILURE with
// billiard.exceptions.TimeLimitExceeded(seconds). exc_message holds the
// limit as a number ([5.0]), not text: Celery's worker builds the
// exception from the float it timed (celery/worker/request.py on_timeout).
celery::result_meta time_limit_exceeded_meta(std::string task_id, double seconds,
                                             std::optional<std::string> traceback = std::nullopt,
                                             celery::meta_context ctx = {});

}  // namespace celeriac::worker
