#pragma once
// What a running task sees of the world: its own request, a way to report
// progress, to ask for a retry, and to notice it should stop (its soft time
// limit, a revoke, a shutdown). Never the broker.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
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

// Why a running task is asked to stop early.
enum class stop_cause {
  none,
  terminate,        // revoked with --terminate (executor::request_stop_current)
  shutdown,         // the worker is shutting down cold
  soft_time_limit,  // the soft deadline has passed
};

// What, besides the worker's shutdown flag, stops one run of a task: its
// soft deadline and the executor's "stop job N" request. Set by the
// executor for each job; the default stops nothing.
struct run_limits {
  std::optional<std::chrono::steady_clock::time_point> soft_deadline = std::nullopt;
  double soft_limit_seconds = 0;  // for messages
  // The run stops once *terminate_seq == seq (seq 0: never).
  const std::atomic<std::uint64_t>* terminate_seq = nullptr;
  std::uint64_t seq = 0;
};

class task_context {
public:
  using progress_sink = std::function<void(const task_request&, const progress_report&)>;

  task_context(task_request request, progress_sink sink, const std::atomic<bool>* stop_flag, run_limits limits = {})
      : request_(std::move(request)), sink_(std::move(sink)), stop_flag_(stop_flag), limits_(limits) {}
  // Runs what at_end() was given, newest first.
  ~task_context();
  task_context(const task_context&) = delete;
  task_context& operator=(const task_context&) = delete;

  const task_request& request() const noexcept { return request_; }

  // Runs `release` when this run ends (the context is destroyed, on the
  // thread that ran the task): for what a task borrows for one run only,
  // such as its PostgreSQL connection (tasks/common/task_database.hpp).
  // A worker child's tasks run on either of two threads, so a resource
  // kept per thread would be kept twice.
  void at_end(std::function<void()> release) const { at_end_.push_back(std::move(release)); }

  // Records progress. Cheap to call often: the worker coalesces reports
  // per job before anything is written. Past the soft deadline, a task
  // that has not been told to stop (should_stop() never returned true to
  // it) gets soft_time_limit_exceeded from here, after the report: it is
  // not stopping by itself, and this is the nearest safe point we have.
  void progress(std::int64_t done, std::int64_t total, std::string unit, json::value meta = {}) const;

  // Asks the worker to run this task again after countdown: throws
  // retry_request, so it does not return. When max_retries is set and
  // reached, throws task_error("MaxRetriesExceededError") instead, as
  // Celery does.
  [[noreturn]] void retry(std::chrono::milliseconds countdown, std::string reason = {}) const;

  // True once the task should stop early: its soft time limit has passed,
  // it was revoked with --terminate, or the worker is shutting down cold.
  // Long tasks check it between units of work and wind up: commit what is
  // done, then return or call checkpoint(). A task that was told (this
  // returned true) and returns normally keeps its result, like a Python
  // task that catches SoftTimeLimitExceeded. Cheap: two relaxed atomic
  // loads, and a clock read (vDSO, no syscall) only when a soft deadline
  // is set.
  bool should_stop() const noexcept {
    const stop_cause why = stop_cause_now();
    if (why == stop_cause::none) return false;
    note_told(why);
    return true;
  }

  // Why should_stop() is true now (none when it is not). Side-effect free.
  stop_cause stop_cause_now() const noexcept;

  // Throws when the task should stop: soft_time_limit_exceeded past the
  // soft deadline, task_terminated when revoked with --terminate or on a
  // cold shutdown. detail (e.g. "stopped at line 12001, rows committed")
  // goes into the exception's text. Call it at points where stopping
  // leaves nothing half done.
  void checkpoint(std::string_view detail = {}) const;

  // When the soft time limit runs out (nullopt: no soft limit).
  std::optional<std::chrono::steady_clock::time_point> soft_deadline() const noexcept { return limits_.soft_deadline; }

  // Past the soft deadline and never told so: the executor fails such a
  // run with SoftTimeLimitExceeded even if it returns normally, as Celery's
  // asynchronous exception would have.
  bool overran_soft_limit_untold() const noexcept { return !told_.load(std::memory_order_relaxed) && past_soft_deadline(); }

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
  bool past_soft_deadline() const noexcept {
    return limits_.soft_deadline && std::chrono::steady_clock::now() >= *limits_.soft_deadline;
  }
  void note_told(stop_cause why) const noexcept;
  void log_soft_limit_once() const noexcept;
  [[noreturn]] void throw_soft_limit(std::string_view detail) const;

  task_request request_;
  progress_sink sink_;
  const std::atomic<bool>* stop_flag_;
  run_limits limits_;
  // Set once should_stop() has returned true: the task knows. Atomic
  // because a task may poll from threads of its own.
  mutable std::atomic<bool> told_{false};
  mutable std::atomic<bool> soft_limit_logged_{false};
  std::vector<follow_up_task> follow_ups_;
  mutable std::vector<std::function<void()>> at_end_;
};

}  // namespace celeriac::app
