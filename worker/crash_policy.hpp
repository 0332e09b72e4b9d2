#pragma once
// What happens to the message a worker child was running when it died.
// Pure: the supervisor's recovery (crash_recovery.cpp) acts on the answer.

#include <string>

namespace celeriac::worker {

enum class child_end {
  crashed,     // died on its own: a signal (segfault, OOM kill, kill -9) or an error exit
  time_limit,  // killed by the supervisor at the task's hard time limit
};

struct crash_decision {
  enum class action {
    redeliver,    // back to the front of its queue, flagged redelivered
    fail,         // FAILURE result (WorkerLostError or TimeLimitExceeded), acked
    dead_letter,  // dead-lettered as worker_lost, FAILURE result, acked
  } what = action::redeliver;
  std::string exc_type;     // for fail / dead_letter
  std::string exc_module;
  std::string exc_message;
};

struct crash_facts {
  child_end end = child_end::crashed;
  std::string exit_text;          // "signal 9 (SIGKILL)" or "exitcode 3", as billiard words it
  int crashes = 1;                // child deaths while this message ran, this one included
  int max_crashes = 3;
  bool requeue_on_crash = true;
  double hard_limit_seconds = 0;  // for time_limit
};

crash_decision decide_crash(const crash_facts& facts);

// billiard's wording of how a process ended: "signal 9 (SIGKILL)" or
// "exitcode 3", from a wait status.
std::string billiard_exit_text(int wait_status);

}  // namespace celeriac::worker
