#pragma once
// Runs tasks, one at a time, beside the child's io_context.
//
// The child keeps talking to Redis while a task runs (refreshing unacked
// scores, answering signals), so a ten-minute CSV import never looks dead
// to a restoring worker. The executor turns each task's return or
// exception into an outcome and hands it back through a callback, which
// the child uses to post onto its io_context.
//
// Two threads share the work (leader/followers): at any time one runs the
// io_context's handlers, the other runs jobs or sleeps. When a handler
// gives a job to an idle executor, the thread that ran the handler runs
// the job itself and wakes the sleeper to take over the io_context: the
// task starts without waiting for a thread to be woken, which on a VM
// costs tens of microseconds per idle-to-busy step (docs/architecture.md,
// "Who runs a task"). While jobs queue up the runner keeps them, as one
// executor thread would.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "app/task_registry.hpp"
#include "celery/result_meta.hpp"
#include "json/value.hpp"

namespace celeriac::worker {

struct job {
  std::uint64_t seq = 0;  // the child's handle for the held message
  std::string delivery_tag;  // for the supervisor, told through the child's shared slot
  // Seconds from the job's start (worker/time_limits.hpp); the supervisor
  // enforces the hard one, the task context exposes the soft one.
  std::optional<double> hard_limit;
  std::optional<double> soft_limit;
  // Set by the executor when the job starts (limits count from the start
  // of the run, as Celery's), so the start callback can read them.
  std::optional<std::chrono::steady_clock::time_point> hard_deadline;
  std::optional<std::chrono::steady_clock::time_point> soft_deadline;
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
  // failure: the exception's args as Celery stores them in exc_message,
  // when they are not just [message] (SoftTimeLimitExceeded() has none).
  std::optional<json::array> exc_args;
  // failure: request_stop_current() asked this job to stop (revoke with
  // terminate); Celery reports such a task REVOKED, reason "terminated",
  // whatever the task did after.
  bool terminated = false;
};

// The FAILURE meta Celery would store for a failed outcome: exc_type,
// exc_module and exc_message = exc_args, or [message] when it has none.
celery::result_meta failure_meta_of(std::string task_id, const outcome& o, std::optional<std::string> traceback,
                                    celery::meta_context ctx);

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

  // When the running job started, and its hard deadline; nullopt when idle
  // (or, for the deadline, when it has no hard limit). Any thread.
  std::optional<std::chrono::steady_clock::time_point> running_since() const noexcept;
  std::optional<std::chrono::steady_clock::time_point> running_hard_deadline() const noexcept;

  // Tells running tasks to stop early (task_context::should_stop()): a
  // cold shutdown.
  void request_stop() noexcept { stop_flag_ = true; }

  // Tells job seq, if it is the one running now, to stop early (revoke
  // with terminate): its should_stop() turns true, checkpoint() throws
  // task_terminated, and its outcome is marked terminated however it ends.
  // Returns false when seq is not running (finished, or not started: the
  // caller revokes it otherwise). Any thread.
  bool request_stop_current(std::uint64_t seq);

  // Runs io's handlers on the executor's threads in turn (see the top of
  // this file) until io is stopped or runs out of work; rethrows what a
  // handler threw. Call from a thread of the caller's own (the child's
  // main thread waits here). Jobs submitted while io is not driven run as
  // on a plain executor thread.
  void drive(boost::asio::io_context& io);

  // Finishes the running job, drops the queue, and joins the threads. Not
  // while drive() runs.
  void shutdown();

private:
  static constexpr int no_thread = -1;
  void serve(int me);
  bool lead(std::unique_lock<std::mutex>& lock, int me);
  void end_io(std::exception_ptr error);
  void run_queued(std::unique_lock<std::mutex>& lock);
  bool leads_here() const;
  void wake_for_queued();
  void mark_started(job& j, std::chrono::steady_clock::time_point start);
  void mark_idle() noexcept;
  static void mark_terminated(outcome& o);
  outcome run_one(job& j, std::chrono::steady_clock::time_point start);

  done_callback on_done_;
  start_callback on_start_;
  start_callback on_end_;
  app::task_context::progress_sink progress_;
  mutable std::mutex mu_;
  std::deque<job> queue_;
  bool closing_ = false;
  // Under mu_: which thread runs io's handlers and which runs jobs
  // (no_thread: none). Never the same thread.
  int leader_ = no_thread;
  int runner_ = no_thread;
  // False from handing io to a sleeping thread until it starts leading.
  bool leader_awake_ = false;
  boost::asio::io_context* io_ = nullptr;  // set while drive() runs
  bool io_done_ = false;
  std::exception_ptr io_error_;
  std::condition_variable wake_[2];  // one per thread: a handover wakes exactly the one it names
  std::condition_variable io_done_cv_;
  std::atomic<std::uint64_t> running_{0};
  std::atomic<bool> stop_flag_{false};
  // The seq request_stop_current() named (0: none): the running task's
  // context compares it with its own.
  std::atomic<std::uint64_t> terminate_seq_{0};
  // The running job's start and hard deadline as steady_clock ticks since
  // its epoch, no_time when idle or unlimited: atomics, so the io thread
  // reads them without the queue's lock.
  static constexpr std::chrono::steady_clock::rep no_time = std::numeric_limits<std::chrono::steady_clock::rep>::min();
  std::atomic<std::chrono::steady_clock::rep> started_ticks_{no_time};
  std::atomic<std::chrono::steady_clock::rep> hard_deadline_ticks_{no_time};
  std::thread threads_[2];
  std::thread::id ids_[2];
};

}  // namespace celeriac::worker
