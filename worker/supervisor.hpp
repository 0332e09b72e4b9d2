#pragma once
// The worker's parent process: forks the children, replaces any that die,
// kills one whose task passed its hard time limit, grows and shrinks the
// pool (autoscale), and turns operator signals into warm or cold shutdowns
// of the children.
//
// The parent runs no tasks, so nothing a task does can take it down: it is
// the part that must never crash, and it never exits because a child
// failed. What a death means for the child's messages is the hooks' job
// (worker/crash_recovery.cpp); this file only manages processes.
// Signals, as Celery has them:
//   SIGTERM       warm shutdown: children stop fetching, finish the task
//                 they run, put prefetched messages back, exit 0
//   SIGINT        warm the first time, cold the second
//   SIGQUIT       cold shutdown: children put every message they hold back
//                 (the running one included) and exit at once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace celeriac::worker {

// Why a child ended, as the supervisor sees it.
enum class child_exit {
  crashed,     // a signal or a non-zero exit while the pool was running
  time_limit,  // killed here because its task passed its hard time limit
  recycled,    // exited 0 by itself (max tasks or memory per child): replaced at once
  retired,     // stopped here because the pool shrank (autoscale)
  shutdown,    // ended during a warm or cold shutdown
};

struct supervisor_hooks {
  // Just before a child is forked into slot `index` (the parent side).
  std::function<void(int index)> before_start;
  // A child was forked into slot `index` (the parent side).
  std::function<void(int index, pid_t pid)> started;
  // A child ended. Runs in the parent, after the child was reaped.
  std::function<void(int index, pid_t pid, int wait_status, child_exit why)> on_exit;
  // When the child in slot `index` must be killed, or nullopt.
  std::function<std::optional<std::chrono::steady_clock::time_point>(int index)> kill_at;
  // How many children should run now, given how many do; empty: a fixed
  // pool. Asked about once a second.
  std::function<int(int running)> wanted;
  // Whether the child in slot `index` did useful work before it died (ran a
  // task): one that did is not in a crash loop, however short it lived.
  std::function<bool(int index)> made_progress;
  // Each turn of the loop (at least every 200 ms): retries and upkeep.
  std::function<void()> on_tick;
};

struct supervisor_config {
  int children = 2;      // at start
  int max_children = 0;  // slots (autoscale's MAX); 0: children
  std::string node_name;  // for log lines
  // A child that dies sooner than this after its start counts as a crash
  // loop: its replacement is delayed (doubling up to max_restart_delay).
  std::chrono::milliseconds min_healthy_uptime{2000};
  std::chrono::milliseconds max_restart_delay{10000};
  // After a cold shutdown request, children still alive after this are
  // killed with SIGKILL (their messages are dealt with as for a crash).
  std::chrono::milliseconds cold_shutdown_grace{10000};
  supervisor_hooks hooks;
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
