#pragma once
// The worker's parent process: forks N children, replaces any that die,
// and turns operator signals into warm or cold shutdowns of the children.
//
// The parent holds no broker connection and runs no tasks, so nothing a
// task does can take it down: it is the part that must never crash.
// Signals, as Celery has them:
//   SIGTERM       warm shutdown: children stop fetching, finish the task
//                 they run, put prefetched messages back, exit 0
//   SIGINT        warm the first time, cold the second
//   SIGQUIT       cold shutdown: children put every message they hold back
//                 (the running one included) and exit at once

#include <chrono>
#include <functional>
#include <string>

namespace celeriac::worker {

struct supervisor_config {
  int children = 2;
  std::string node_name;  // for log lines
  // A child that dies sooner than this after its start counts as a crash
  // loop: its replacement is delayed (doubling up to max_restart_delay).
  std::chrono::milliseconds min_healthy_uptime{2000};
  std::chrono::milliseconds max_restart_delay{10000};
  // After a cold shutdown request, children still alive after this are
  // killed with SIGKILL (their messages come back by visibility timeout).
  std::chrono::milliseconds cold_shutdown_grace{10000};
};

// Runs in a forked child: index is 0-based and stable across replacements
// (child 0's replacement is again index 0). Returns the exit code.
using child_main = std::function<int(int index)>;

// Forks the children, supervises them until a shutdown completes, and
// returns the process exit code (0 after a clean warm shutdown). Blocks
// SIGINT/SIGTERM/SIGQUIT/SIGCHLD in the parent and handles them
// synchronously with sigtimedwait.
int run_supervisor(const supervisor_config& config, const child_main& body);

// "exited with code 3" / "killed by signal 9 (SIGKILL)" for a wait status.
std::string describe_exit(int wait_status);

}  // namespace celeriac::worker
