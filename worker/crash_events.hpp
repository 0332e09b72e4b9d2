#pragma once
// The task event Celery's worker sends when the pool process running a
// task dies under it, for the outcomes the supervisor decides
// (crash_recovery.cpp): the child is gone, so the supervisor sends it.
//
//   redeliver   task-rejected, requeue true (Request.reject, as with
//               reject_on_worker_lost)
//   fail        task-failed: TimeLimitExceeded(<seconds>) at the hard time
//   dead_letter limit, WorkerLostError('Worker exited prematurely: ...')
//               for a crash (Request.on_failure)
//
// Pure: building only; the caller publishes.

#include <string>
#include <string_view>

#include "json/value.hpp"
#include "worker/crash_policy.hpp"

namespace celeriac::worker {

struct task_event {
  std::string type;  // "task-failed", "task-rejected"
  json::object fields;
};

task_event crash_event(const crash_decision& d, std::string_view id, std::string_view task, double hard_limit_seconds);

// The traceback text stored with a crash's FAILURE and sent with its
// task-failed event: the task had no Python frames, so one line names it.
std::string crash_traceback(std::string_view task, const crash_decision& d);

}  // namespace celeriac::worker
