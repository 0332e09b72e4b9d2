#pragma once
// Runs tasks, one at a time, on a thread of its own.
//
// The child's io_context thread keeps talking to Redis while a task runs
// (refreshing unacked scores, answering signals), so a ten-minute CSV
// import never looks dead to a restoring worker. The executor turns each
// task's return or exception into an outcome and hands it back through a
// callback, which the child uses to post onto its io_context.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/task_registry.hpp"
#include "json/value.hpp"

namespace celeriac::worker {

struct job {
  std::uint64_t seq = 0;  // the child's handle for the held message
  std::string delivery_tag;  // for the supervisor, told through the child's shared slot
  // Seconds from the job's start (worker/time_limits.hpp); the supervisor
  // enforces the hard one, the task context exposes the soft one.
  std::optional<double> hard_limit;
  std::optional<double> soft_limit;
  const app::task_definition* task = nullptr;
  app::task_request request;
  json::array args;
  json::object kwargs;
};

struct outcome {
  enum class kind { success, failure, retry };
  std::uint64_t seq = 0;
  kind what = kind::success;
  json::value result;             // success: the return value
  std::string exc_type;           // failure: Python exception type name
  std::string exc_module;         // failure: its module ("builtins")
  std::string message;            // failure/retry: the error text
  std::chrono::milliseconds retry_countdown{0};
  double runtime_seconds = 0;
  bool bad_arguments = false;     // failure: the arguments did not fit the task
  std::vector<app::follow_up_task> follow_ups;  // success: messages to send with the result
};

class executor {
public:
  // Receives finished jobs' outcomes in completion order. Outcomes are
  // handed over in batches while more jobs are queued (one cross-thread
  // wake-up per batch, not per task) and at once when the queue runs dry,
  // so a lone task is reported without delay.
  using done_callback = std::function<void(std::vector<outcome>)>;
  using start_callback = std::function<void(const job&)>;

  // on_done runs on the executor thread after each job; on_start (may be
  // empty) just before each job starts.
  executor(done_callback on_done, start_callback on_start, app::task_context::progress_sink progress);
  ~executor();
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  // Called on the executor thread right after each job ran, before its
  // outcome is handed over (the child clears its shared slot here). Set
  // before the first submit.
  void set_end_callback(start_callback on_end) { on_end_ = std::move(on_end); }

  // Queues a job; jobs run in submission order.
  void submit(job j);
  // Queues several jobs with one wake-up.
  void submit(std::vector<job> jobs);

  // Jobs queued but not started, taken back (for a warm shutdown to put
  // their messages back on the broker).
  std::deque<job> take_pending();

  // Number of jobs queued or running.
  std::size_t load() const;

  // Seq of the job running now, or 0.
  std::uint64_t running() const noexcept { return running_.load(); }

  // Tells running tasks to stop early (task_context::should_stop()).
  void request_stop() noexcept { stop_flag_ = true; }

  // Finishes the running job, drops the queue, and joins the thread.
  void shutdown();

private:
  void loop();
  outcome run_one(job& j);

  done_callback on_done_;
  start_callback on_start_;
  start_callback on_end_;
  app::task_context::progress_sink progress_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job> queue_;
  bool closing_ = false;
  std::atomic<std::uint64_t> running_{0};
  std::atomic<bool> stop_flag_{false};
  std::thread thread_;
};

}  // namespace celeriac::worker
