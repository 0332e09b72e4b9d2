#include "worker/crash_policy.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <fmt/format.h>

namespace celeriac::worker {

namespace {

// Python's repr of a float: 1.0, 2.5 (the stored meta holds the number).
std::string python_float(double v) {
  return v == static_cast<double>(static_cast<long long>(v)) ? fmt::format("{:.1f}", v) : fmt::format("{}", v);
}

}  // namespace

crash_decision decide_crash(const crash_facts& f) {
  using action = crash_decision::action;
  if (f.end == child_end::time_limit)
    // Celery: TimeLimitExceeded(<seconds>), never retried by the worker.
    return {action::fail, "TimeLimitExceeded", "billiard.exceptions", python_float(f.hard_limit_seconds)};
  const std::string lost = fmt::format("Worker exited prematurely: {}", f.exit_text);
  // The cap applies whatever the requeue policy: a message that has taken
  // down max_crashes children is poison and kept for an operator.
  if (f.crashes >= f.max_crashes) return {action::dead_letter, "WorkerLostError", "billiard.exceptions", lost};
  if (!f.requeue_on_crash) return {action::fail, "WorkerLostError", "billiard.exceptions", lost};
  return {action::redeliver, {}, {}, {}};
}

std::string billiard_exit_text(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return fmt::format("signal {} (SIG{})", sig, name ? name : "?");
  }
  if (WIFEXITED(status)) return fmt::format("exitcode {}", WEXITSTATUS(status));
  return fmt::format("wait status {}", status);
}

}  // namespace celeriac::worker
