#include "worker/executor.hpp"

#include <fmt/format.h>

#include "app/task_error.hpp"
#include "json/dump.hpp"
#include "util/log.hpp"
#include "worker/time_limits.hpp"

namespace celeriac::worker {

executor::executor(done_callback on_done, start_callback on_start, app::task_context::progress_sink progress)
    : on_done_(std::move(on_done)), on_start_(std::move(on_start)), progress_(std::move(progress)) {
  for (int i = 0; i < 2; ++i) {
    threads_[i] = std::thread([this, i] { serve(i); });
    ids_[i] = threads_[i].get_id();
  }
}

executor::~executor() { shutdown(); }

bool executor::leads_here() const {
  return leader_ != no_thread && ids_[leader_] == std::this_thread::get_id();
}

void executor::submit(job j) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(j));
  wake_for_queued();
}

void executor::submit(std::vector<job> jobs) {
  if (jobs.empty()) return;
  std::lock_guard lock(mu_);
  for (auto& j : jobs) queue_.push_back(std::move(j));
  wake_for_queued();
}

// Under mu_, after jobs were queued. From a handler on the leader, the
// leader itself runs them once the handler returns (lead()); otherwise a
// sleeping thread takes them.
void executor::wake_for_queued() {
  if (runner_ != no_thread || leads_here()) return;
  wake_[leader_ == 0 ? 1 : 0].notify_one();
}

std::deque<job> executor::take_pending() {
  std::lock_guard lock(mu_);
  return std::exchange(queue_, {});
}

std::size_t executor::load() const {
  std::lock_guard lock(mu_);
  return queue_.size() + (running_.load() ? 1 : 0);
}

void executor::drive(boost::asio::io_context& io) {
  std::unique_lock lock(mu_);
  io_ = &io;
  io_done_ = false;
  io_error_ = nullptr;
  leader_ = runner_ == 0 ? 1 : 0;
  leader_awake_ = false;
  wake_[leader_].notify_one();
  io_done_cv_.wait(lock, [this] { return io_done_; });
  io_ = nullptr;
  if (io_error_) std::rethrow_exception(std::exchange(io_error_, nullptr));
}

void executor::shutdown() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    queue_.clear();
  }
  for (auto& w : wake_) w.notify_one();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

std::optional<std::chrono::steady_clock::time_point> executor::running_since() const noexcept {
  const auto ticks = started_ticks_.load(std::memory_order_relaxed);
  if (ticks == no_time) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ticks));
}

std::optional<std::chrono::steady_clock::time_point> executor::running_hard_deadline() const noexcept {
  const auto ticks = hard_deadline_ticks_.load(std::memory_order_relaxed);
  if (ticks == no_time) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ticks));
}

bool executor::request_stop_current(std::uint64_t seq) {
  // Under the queue's lock: the loop settles whether a job was terminated
  // under the same lock, as it marks the job finished.
  std::lock_guard lock(mu_);
  if (seq == 0 || running_.load() != seq) return false;
  terminate_seq_.store(seq, std::memory_order_relaxed);
  return true;
}

void executor::serve(int me) {
  std::unique_lock lock(mu_);
  while (!closing_) {
    if (leader_ != me && leader_ != no_thread && !leader_awake_ && runner_ == no_thread) {
      // The thread io was handed to has not woken yet (on a busy VM that
      // can take milliseconds): this one is awake and idle, so it takes io
      // back rather than leave it unattended; the other goes back to sleep.
      leader_ = me;
    }
    if (leader_ == me) {
      if (!lead(lock, me)) continue;
    } else if (runner_ == no_thread && !queue_.empty()) {
      runner_ = me;  // io is not driven, or its leader asked for help
    } else {
      wake_[me].wait(lock);
      continue;
    }
    run_queued(lock);
  }
}

// Runs io's handlers one at a time, checking after each whether it gave
// the executor a job while no thread runs jobs. Returns true when this
// thread is to run them (the other has taken io over), false when it no
// longer leads.
bool executor::lead(std::unique_lock<std::mutex>& lock, int me) {
  while (leader_ == me && !closing_) {
    leader_awake_ = true;
    lock.unlock();
    std::size_t ran = 0;
    std::exception_ptr error;
    try {
      ran = io_->run_one();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error || ran == 0 || io_->stopped()) {
      end_io(error);
      return false;
    }
    if (!queue_.empty() && runner_ == no_thread) {
      const int other = 1 - me;
      leader_ = other;
      leader_awake_ = false;
      runner_ = me;
      wake_[other].notify_one();
      return true;
    }
  }
  return false;
}

void executor::end_io(std::exception_ptr error) {
  leader_ = no_thread;
  io_done_ = true;
  io_error_ = std::move(error);
  io_done_cv_.notify_all();
  // Jobs still queued run as on a plain executor thread.
  if (runner_ == no_thread && !queue_.empty())
    for (auto& w : wake_) w.notify_one();
}

// Runs queued jobs, in order, until none is left; outcomes are handed
// over once this many have piled up, or as soon as no job is waiting.
void executor::run_queued(std::unique_lock<std::mutex>& lock) {
  constexpr std::size_t max_batch = 256;
  std::vector<outcome> done;
  while (true) {
    if (queue_.empty()) {
      if (done.empty()) break;
      lock.unlock();
      on_done_(std::exchange(done, {}));
      lock.lock();
      continue;
    }
    if (closing_) break;
    job j = std::move(queue_.front());
    queue_.pop_front();
    running_ = j.seq;
    lock.unlock();
    // The one clock read of a job's start: deadlines, runtime and
    // running_since() all count from it.
    const auto start = std::chrono::steady_clock::now();
    mark_started(j, start);
    if (on_start_) on_start_(j);
    outcome o = run_one(j, start);
    if (on_end_) on_end_(j);
    lock.lock();
    running_ = 0;  // from here request_stop_current(j.seq) is refused
    mark_idle();
    if (terminate_seq_.load(std::memory_order_relaxed) == j.seq) mark_terminated(o);
    done.push_back(std::move(o));
    if (done.size() >= max_batch) {
      lock.unlock();
      on_done_(std::exchange(done, {}));
      lock.lock();
    }
  }
  runner_ = no_thread;
}

void executor::mark_started(job& j, std::chrono::steady_clock::time_point start) {
  j.hard_deadline = deadline_after(start, j.hard_limit);
  j.soft_deadline = deadline_after(start, j.soft_limit);
  hard_deadline_ticks_.store(j.hard_deadline ? j.hard_deadline->time_since_epoch().count() : no_time,
                             std::memory_order_relaxed);
  started_ticks_.store(start.time_since_epoch().count(), std::memory_order_relaxed);
}

void executor::mark_idle() noexcept {
  started_ticks_.store(no_time, std::memory_order_relaxed);
  hard_deadline_ticks_.store(no_time, std::memory_order_relaxed);
}

void executor::mark_terminated(outcome& o) {
  // Celery's terminate ends the run whatever the task was doing; what the
  // task returned or threw after being told is not its result.
  // A task that stopped at a checkpoint() keeps its own text.
  if (o.what != outcome::kind::failure || o.exc_type != "Terminated") o.message = "revoked with terminate while running";
  o.what = outcome::kind::failure;
  o.exc_type = "Terminated";
  o.exc_module = "billiard.exceptions";
  o.exc_args.reset();
  o.result = nullptr;
  o.bad_arguments = false;
  o.follow_ups.clear();
  o.terminated = true;
}

namespace {

void fail_with(outcome& o, const app::task_error& e) {
  o.what = outcome::kind::failure;
  o.exc_type = e.exc_type();
  o.exc_module = e.exc_module();
  o.message = e.what();
}

// SoftTimeLimitExceeded() as Celery stores it: no args.
void fail_soft_limit(outcome& o, const app::soft_time_limit_exceeded& e) {
  fail_with(o, e);
  o.exc_args = json::array{};
}

}  // namespace

outcome executor::run_one(job& j, std::chrono::steady_clock::time_point start) {
  outcome o;
  o.seq = j.seq;
  const app::run_limits limits{j.soft_deadline, j.soft_limit.value_or(0), &terminate_seq_, j.seq};
  app::task_context ctx(j.request, progress_, &stop_flag_, limits);
  const log::task_scope logging_for(j.request.name, j.request.id);  // --log-format json: lines the task logs name it
  try {
    o.result = j.task->fn(ctx, j.args, j.kwargs);
    if (ctx.overran_soft_limit_untold()) {
      // It never learnt of its soft limit, so it did not stop by itself:
      // Celery's exception would have ended it at the deadline.
      o.result = nullptr;
      fail_soft_limit(o, app::soft_time_limit_exceeded(fmt::format(
                             "soft time limit ({}s) exceeded: the task returned after it without having been told "
                             "(it never asked should_stop()); its result is dropped",
                             json::dump(json::value(*j.soft_limit)))));
    } else {
      o.what = outcome::kind::success;
      o.follow_ups = ctx.take_follow_ups();
    }
  } catch (const app::retry_request& r) {
    o.what = outcome::kind::retry;
    o.retry_countdown = r.countdown;
    o.message = r.reason.empty() ? "Retry requested" : r.reason;
  } catch (const app::argument_error& e) {
    fail_with(o, e);
    o.bad_arguments = true;
  } catch (const app::soft_time_limit_exceeded& e) {
    fail_soft_limit(o, e);
  } catch (const app::task_error& e) {
    fail_with(o, e);
  } catch (const std::exception& e) {
    o.what = outcome::kind::failure;
    o.exc_type = "Exception";
    o.exc_module = "builtins";
    o.message = e.what();
  } catch (...) {
    o.what = outcome::kind::failure;
    o.exc_type = "Exception";
    o.exc_module = "builtins";
    o.message = "task threw something that is not a std::exception";
  }
  o.runtime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return o;
}

celery::result_meta failure_meta_of(std::string task_id, const outcome& o, std::optional<std::string> traceback,
                                    celery::meta_context ctx) {
  if (o.exc_args)
    return failure_meta_with_args(std::move(task_id), o.exc_type, *o.exc_args, o.exc_module, std::move(traceback),
                                  std::move(ctx));
  return celery::failure_meta(std::move(task_id), o.exc_type, o.message, o.exc_module, std::move(traceback),
                              std::move(ctx));
}

}  // namespace celeriac::worker
