#pragma once
// What a running task sees of the world: its own request, a way to report
// progress, to ask for a retry, and to notice a shutdown. Never the broker.

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/task_resources.hpp"
#include "json/value.hpp"

namespace celeriac::app {

// The request a task runs for (Celery's Task.request).
struct task_request {
  std::string id;
  std::string name;
  std::string queue;
  int retries = 0;
  std::optional<int> max_retries;  // from the task's registration
  std::string root_id;
  std::string parent_id;
  std::string group;
  bool redelivered = false;
  std::string worker;  // node name, e.g. "celeriac@host"
};

// A progress report; unit says what done/total count ("rows", "bytes").
struct progress_report {
  std::int64_t done = 0;
  std::int64_t total = 0;
  std::string unit;
  json::value meta;  // task-specific counters (rows_loaded, rows_rejected...)
};

// A task message a task asks to have sent once it has finished (see
// task_context::send_task_after).
struct follow_up_task {
  std::string name;
  json::array args;
  json::object kwargs;
  std::string queue;  // empty: the queue the asking task came from
};

class task_context {
public:
  using progress_sink = std::function<void(const task_request&, const progress_report&)>;

  task_context(task_request request, progress_sink sink, const std::atomic<bool>* stop_flag)
      : request_(std::move(request)), sink_(std::move(sink)), stop_flag_(stop_flag) {}

  const task_request& request() const noexcept { return request_; }

  // Records progress. Cheap to call often: the worker coalesces reports
  // per job before anything is written.
  void progress(std::int64_t done, std::int64_t total, std::string unit, json::value meta = {}) const {
    if (sink_) sink_(request_, progress_report{done, total, std::move(unit), std::move(meta)});
  }

  // Asks the worker to run this task again after countdown: throws
  // retry_request, so it does not return. When max_retries is set and
  // reached, throws task_error("MaxRetriesExceededError") instead, as
  // Celery does.
  [[noreturn]] void retry(std::chrono::milliseconds countdown, std::string reason = {}) const;

  // True once the worker is shutting down cold; long tasks should check it
  // between units of work and stop early (the message is then restored).
  bool should_stop() const noexcept { return stop_flag_ && stop_flag_->load(std::memory_order_relaxed); }

  // Asks the worker to send task `name` when this task succeeds, in the
  // same write as its result and acknowledgement (as Celery sends a
  // chain's next step): a task that continues its own work (a backlog
  // sweep) hands over without a window where the work could be lost or
  // sent twice by this delivery. Nothing is sent if the task fails or
  // retries.
  void send_task_after(std::string name, json::array args = {}, json::object kwargs = {},
                       std::string queue = {}) {
    follow_ups_.push_back(follow_up_task{std::move(name), std::move(args), std::move(kwargs), std::move(queue)});
  }
  std::vector<follow_up_task> take_follow_ups() noexcept { return std::exchange(follow_ups_, {}); }

  // The database URL, upload folder and table allow-list the worker was
  // started with (see task_resources.hpp): the process's, set once at start.
  const task_resources& resources() const noexcept { return process_task_resources(); }

private:
  task_request request_;
  progress_sink sink_;
  const std::atomic<bool>* stop_flag_;
  std::vector<follow_up_task> follow_ups_;
};

}  // namespace celeriac::app
