#include "worker/crash_policy.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <fmt/format.h>

namespace celeriac::worker {

crash_decision decide_crash(const crash_facts& f) {
  using action = crash_decision::action;
  if (f.end == child_end::time_limit)
    // Celery: TimeLimitExceeded(<seconds>), never retried by the worker.
    return {action::fail, "TimeLimitExceeded", "billiard.exceptions", fmt::format("{}", f.hard_limit_seconds)};
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
