#include "worker/executor.hpp"

#include "app/task_error.hpp"

namespace celeriac::worker {

executor::executor(done_callback on_done, start_callback on_start, app::task_context::progress_sink progress)
    : on_done_(std::move(on_done)),
      on_start_(std::move(on_start)),
      progress_(std::move(progress)),
      thread_([this] { loop(); }) {}

executor::~executor() { shutdown(); }

void executor::submit(job j) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(j));
  }
  cv_.notify_one();
}

void executor::submit(std::vector<job> jobs) {
  if (jobs.empty()) return;
  {
    std::lock_guard lock(mu_);
    for (auto& j : jobs) queue_.push_back(std::move(j));
  }
  cv_.notify_one();
}

std::deque<job> executor::take_pending() {
  std::lock_guard lock(mu_);
  return std::exchange(queue_, {});
}

std::size_t executor::load() const {
  std::lock_guard lock(mu_);
  return queue_.size() + (running_.load() ? 1 : 0);
}

void executor::shutdown() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    queue_.clear();
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void executor::loop() {
  // Outcomes are handed over once this many have piled up, or as soon as
  // no job is waiting.
  constexpr std::size_t max_batch = 256;
  std::vector<outcome> done;
  std::unique_lock lock(mu_);
  while (true) {
    if (queue_.empty() && !done.empty()) {
      lock.unlock();
      on_done_(std::exchange(done, {}));
      lock.lock();
      continue;
    }
    cv_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (closing_) return;
    job j = std::move(queue_.front());
    queue_.pop_front();
    running_ = j.seq;
    lock.unlock();
    if (on_start_) on_start_(j);
    done.push_back(run_one(j));
    if (on_end_) on_end_(j);
    if (done.size() >= max_batch) on_done_(std::exchange(done, {}));
    lock.lock();
    running_ = 0;
  }
}

outcome executor::run_one(job& j) {
  outcome o;
  o.seq = j.seq;
  app::task_context ctx(j.request, progress_, &stop_flag_);
  auto start = std::chrono::steady_clock::now();
  try {
    o.result = j.task->fn(ctx, j.args, j.kwargs);
    o.what = outcome::kind::success;
    o.follow_ups = ctx.take_follow_ups();
  } catch (const app::retry_request& r) {
    o.what = outcome::kind::retry;
    o.retry_countdown = r.countdown;
    o.message = r.reason.empty() ? "Retry requested" : r.reason;
  } catch (const app::argument_error& e) {
    o.what = outcome::kind::failure;
    o.exc_type = e.exc_type();
    o.exc_module = e.exc_module();
    o.message = e.what();
    o.bad_arguments = true;
  } catch (const app::task_error& e) {
    o.what = outcome::kind::failure;
    o.exc_type = e.exc_type();
    o.exc_module = e.exc_module();
    o.message = e.what();
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

}  // namespace celeriac::worker
