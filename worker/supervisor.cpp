#include "worker/supervisor.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "util/log.hpp"

namespace celeriac::worker {
namespace {

using clock = std::chrono::steady_clock;

struct child_slot {
  pid_t pid = 0;  // 0: not running
  clock::time_point started{};
  clock::time_point restart_at{};  // when pid == 0 and not shutting down
  std::chrono::milliseconds delay{0};
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

void signal_all(std::vector<child_slot>& slots, int sig) {
  for (auto& s : slots)
    if (s.pid > 0) ::kill(s.pid, sig);
}

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
  sigset_t set = handled_signals(), old_mask;
  ::sigprocmask(SIG_BLOCK, &set, &old_mask);

  std::vector<child_slot> slots(static_cast<std::size_t>(config.children));
  phase ph = phase::running;
  clock::time_point cold_deadline{};
  bool any_failure = false;

  for (std::size_t i = 0; i < slots.size(); ++i) {
    slots[i].pid = spawn(static_cast<int>(i), body, old_mask);
    slots[i].started = clock::now();
  }

  while (true) {
    // Reap every child that ended, logging why.
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (std::size_t i = 0; i < slots.size(); ++i) {
        auto& s = slots[i];
        if (s.pid != pid) continue;
        s.pid = 0;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ph == phase::running) {
          log::error("worker child {} (pid {}) {}; starting a replacement", i + 1, pid, describe_exit(status));
          auto uptime = clock::now() - s.started;
          s.delay = uptime < config.min_healthy_uptime
                        ? std::min(config.max_restart_delay, std::max(std::chrono::milliseconds(100), s.delay * 2))
                        : std::chrono::milliseconds(0);
          s.restart_at = clock::now() + s.delay;
          if (s.delay.count() > 0)
            log::warning("worker child {} keeps dying right after start; next start in {} ms", i + 1,
                         s.delay.count());
        } else {
          if (!clean) any_failure = true;
          auto line = fmt::format("worker child {} (pid {}) {}", i + 1, pid, describe_exit(status));
          log::write(clean ? log::level::info : log::level::warning, line);
        }
      }
    }

    bool all_gone = true;
    for (auto& s : slots) all_gone = all_gone && s.pid == 0;
    if (ph != phase::running && all_gone) break;

    if (ph == phase::running) {
      for (std::size_t i = 0; i < slots.size(); ++i) {
        auto& s = slots[i];
        if (s.pid == 0 && clock::now() >= s.restart_at) {
          s.pid = spawn(static_cast<int>(i), body, old_mask);
          s.started = clock::now();
        }
      }
    }
    if (ph == phase::cold && clock::now() >= cold_deadline) {
      log::warning("children still alive {} ms after cold shutdown: killing them",
                   config.cold_shutdown_grace.count());
      signal_all(slots, SIGKILL);
      cold_deadline = clock::now() + std::chrono::hours(1);
    }

    timespec timeout{0, 200'000'000};
    int sig = ::sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGTERM || (sig == SIGINT && ph == phase::running)) {
      if (ph == phase::running) {
        log::info("warm shutdown ({}): waiting for running tasks to finish", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        ph = phase::warm;
        signal_all(slots, SIGTERM);
      }
    } else if (sig == SIGQUIT || sig == SIGINT) {
      if (ph != phase::cold) {
        log::info("cold shutdown ({}): restoring held messages and exiting", sig == SIGQUIT ? "SIGQUIT" : "SIGINT");
        ph = phase::cold;
        cold_deadline = clock::now() + config.cold_shutdown_grace;
        signal_all(slots, SIGQUIT);
      }
    }
  }
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  return any_failure ? 1 : 0;
}

}  // namespace celeriac::worker
