#include "worker/supervisor.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "util/log.hpp"

namespace celeriac::worker {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct child_slot_state {
  pid_t pid = 0;  // 0: not running
  clock::time_point started{};
  clock::time_point restart_at{};  // when pid == 0 and the slot is in use
  milliseconds delay{0};
  bool in_use = false;     // part of the pool (autoscale turns slots on and off)
  bool retiring = false;   // asked to stop because the pool shrinks
  bool killed_for_limit = false;
};

enum class phase { running, warm, cold };

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGQUIT, SIGCHLD}) sigaddset(&set, s);
  return set;
}

pid_t spawn(int index, const child_main& body, const sigset_t& old_mask) {
  pid_t pid = ::fork();
  if (pid < 0) {
    log::error("could not fork worker child {}: {}; retrying", index + 1, std::strerror(errno));
    return 0;
  }
  if (pid > 0) return pid;
  // In the child: default dispositions, the parent's mask restored. The
  // terminal sends SIGINT to the whole process group; the parent decides
  // what it means, so children ignore it.
  for (int s : {SIGTERM, SIGQUIT, SIGCHLD}) ::signal(s, SIG_DFL);
  ::signal(SIGINT, SIG_IGN);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  log::set_process_name(fmt::format("Worker-{}", index + 1));
  int code = 1;
  try {
    code = body(index);
  } catch (const std::exception& e) {
    log::critical("worker child crashed: {}", e.what());
  } catch (...) {
    log::critical("worker child crashed with an unknown exception");
  }
  std::fflush(nullptr);
  ::_exit(code);
}

void signal_all(std::vector<child_slot_state>& slots, int sig) {
  for (auto& s : slots)
    if (s.pid > 0) ::kill(s.pid, sig);
}

class supervisor {
public:
  supervisor(const supervisor_config& config, const child_main& body) : config_(config), body_(body) {
    const int n = std::max(config.children, config.max_children);
    slots_.resize(static_cast<std::size_t>(std::max(1, n)));
    for (int i = 0; i < config.children; ++i) slots_[static_cast<std::size_t>(i)].in_use = true;
  }

  int run() {
    sigset_t set = handled_signals();
    ::sigprocmask(SIG_BLOCK, &set, &old_mask_);
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].in_use) start(i);
    while (true) {
      reap();
      if (ph_ != phase::running && all_gone()) break;
      if (ph_ == phase::running) {
        restart_due();
        enforce_deadlines();
        rescale();
      }
      if (ph_ == phase::cold && clock::now() >= cold_deadline_) {
        log::warning("children still alive {} ms after cold shutdown: killing them",
                     config_.cold_shutdown_grace.count());
        signal_all(slots_, SIGKILL);
        cold_deadline_ = clock::now() + std::chrono::hours(1);
      }
      if (config_.hooks.on_tick) config_.hooks.on_tick();
      wait_for_signal(set);
    }
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    return any_failure_ ? 1 : 0;
  }

private:
  void start(std::size_t i) {
    auto& s = slots_[i];
    if (config_.hooks.before_start) config_.hooks.before_start(static_cast<int>(i));
    s.pid = spawn(static_cast<int>(i), body_, old_mask_);
    if (s.pid > 0 && config_.hooks.started) config_.hooks.started(static_cast<int>(i), s.pid);
    s.started = clock::now();
    s.killed_for_limit = false;
    s.retiring = false;
  }

  bool all_gone() const {
    return std::all_of(slots_.begin(), slots_.end(), [](const auto& s) { return s.pid == 0; });
  }

  int running_children() const {
    return static_cast<int>(std::count_if(slots_.begin(), slots_.end(), [](const auto& s) { return s.in_use; }));
  }

  // Reaps every child that ended, logs why, and tells the hooks.
  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        auto& s = slots_[i];
        if (s.pid != pid) continue;
        s.pid = 0;
        const child_exit why = classify(s, status);
        log_exit(i, pid, status, why);
        if (why == child_exit::crashed || why == child_exit::time_limit) schedule_restart(i);
        if (why == child_exit::recycled) s.restart_at = clock::now(), s.delay = milliseconds(0);
        if (why == child_exit::retired) s.in_use = false;
        if (config_.hooks.on_exit) config_.hooks.on_exit(static_cast<int>(i), pid, status, why);
      }
    }
  }

  child_exit classify(const child_slot_state& s, int status) const {
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ph_ != phase::running) return child_exit::shutdown;
    if (s.killed_for_limit) return child_exit::time_limit;
    if (s.retiring) return child_exit::retired;
    return clean ? child_exit::recycled : child_exit::crashed;
  }

  void log_exit(std::size_t i, pid_t pid, int status, child_exit why) {
    switch (why) {
      case child_exit::crashed:
        log::error("worker child {} (pid {}) {}; starting a replacement", i + 1, pid, describe_exit(status));
        break;
      case child_exit::time_limit:
        log::error("worker child {} (pid {}) killed: its task passed its hard time limit; starting a replacement",
                   i + 1, pid);
        break;
      case child_exit::recycled:
        log::info("worker child {} (pid {}) retired itself (max tasks or memory per child); starting a replacement",
                  i + 1, pid);
        break;
      case child_exit::retired:
        log::info("worker child {} (pid {}) stopped: the pool shrinks", i + 1, pid);
        break;
      case child_exit::shutdown: {
        const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!clean) any_failure_ = true;
        log::write(clean ? log::level::info : log::level::warning,
                   fmt::format("worker child {} (pid {}) {}", i + 1, pid, describe_exit(status)));
        break;
      }
    }
  }

  void schedule_restart(std::size_t i) {
    auto& s = slots_[i];
    auto uptime = clock::now() - s.started;
    const bool progressed = config_.hooks.made_progress && config_.hooks.made_progress(static_cast<int>(i));
    s.delay = uptime < config_.min_healthy_uptime && !progressed
                  ? std::min(config_.max_restart_delay, std::max(milliseconds(100), s.delay * 2))
                  : milliseconds(0);
    s.restart_at = clock::now() + s.delay;
    if (s.delay.count() > 0)
      log::warning("a worker child keeps dying right after start; next start in {} ms", s.delay.count());
  }

  void restart_due() {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      auto& s = slots_[i];
      if (s.in_use && s.pid == 0 && clock::now() >= s.restart_at) start(i);
    }
  }

  void enforce_deadlines() {
    if (!config_.hooks.kill_at) return;
    const auto now = clock::now();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      auto& s = slots_[i];
      if (s.pid == 0 || s.killed_for_limit) continue;
      auto at = config_.hooks.kill_at(static_cast<int>(i));
      if (at && now >= *at) {
        s.killed_for_limit = true;
        ::kill(s.pid, SIGKILL);
      }
    }
  }

  // Autoscale and remote pool_grow/pool_shrink: grows at once, shrinks by
  // warm-stopping the highest slots (slot 0, which answers remote control,
  // stays).
  void rescale() {
    if (!config_.hooks.wanted || clock::now() < next_scale_check_) return;
    next_scale_check_ = clock::now() + std::chrono::seconds(1);
    const int current = running_children();
    const int want = std::clamp(config_.hooks.wanted(current), 0, static_cast<int>(slots_.size()));
    if (want > current) {
      log::info("growing the pool from {} to {} children", current, want);
      for (std::size_t i = 0, added = 0; i < slots_.size() && static_cast<int>(added) < want - current; ++i) {
        auto& s = slots_[i];
        if (s.in_use || s.pid != 0) continue;
        s.in_use = true;
        s.delay = milliseconds(0);
        start(i);
        ++added;
      }
    } else if (want < current) {
      log::info("shrinking the pool from {} to {} children", current, want);
      int to_stop = current - want;
      for (std::size_t i = slots_.size(); i-- > 0 && to_stop > 0;) {
        auto& s = slots_[i];
        if (!s.in_use || s.retiring) continue;
        --to_stop;
        if (s.pid == 0) {
          s.in_use = false;
          continue;
        }
        s.retiring = true;
        s.in_use = false;
        ::kill(s.pid, SIGTERM);
      }
    }
  }

  void wait_for_signal(const sigset_t& set) {
    milliseconds wait(200);
    if (config_.hooks.kill_at) {
      // Wake up in time for the nearest hard deadline.
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].pid == 0) continue;
        if (auto at = config_.hooks.kill_at(static_cast<int>(i))) {
          auto left = std::chrono::duration_cast<milliseconds>(*at - clock::now()) + milliseconds(1);
          wait = std::clamp(left, milliseconds(1), wait);
        }
      }
    }
    timespec timeout{0, static_cast<long>(wait.count()) * 1'000'000};
    int sig = ::sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGTERM || (sig == SIGINT && ph_ == phase::running)) {
      if (ph_ == phase::running) {
        log::info("warm shutdown ({}): waiting for running tasks to finish", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        ph_ = phase::warm;
        signal_all(slots_, SIGTERM);
      }
    } else if (sig == SIGQUIT || sig == SIGINT) {
      if (ph_ != phase::cold) {
        log::info("cold shutdown ({}): restoring held messages and exiting", sig == SIGQUIT ? "SIGQUIT" : "SIGINT");
        ph_ = phase::cold;
        cold_deadline_ = clock::now() + config_.cold_shutdown_grace;
        signal_all(slots_, SIGQUIT);
      }
    }
  }

  const supervisor_config& config_;
  const child_main& body_;
  std::vector<child_slot_state> slots_;
  sigset_t old_mask_{};
  phase ph_ = phase::running;
  clock::time_point cold_deadline_{};
  clock::time_point next_scale_check_{};
  bool any_failure_ = false;
};

}  // namespace

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return fmt::format("killed by signal {} (SIG{}){}", sig, name ? name : "?",
                       WCOREDUMP(status) ? ", core dumped" : "");
  }
  return fmt::format("ended with wait status {}", status);
}

int run_supervisor(const supervisor_config& config, const child_main& body) {
  supervisor s(config, body);
  return s.run();
}

}  // namespace celeriac::worker
