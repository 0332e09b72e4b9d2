// child_process: a program started by a test (celeriac beat, a worker),
// with its output in a log file, signalled and reaped by pid.
//
//   child_process beat({bin, "beat", "-s", file, "-b", url}, dir / "beat-a.log");
//   beat.signal(SIGKILL);
//   auto code = beat.wait_for(5s);   // exit code, 128+signal, or nullopt
//
// Forks on the redis_server fixture's launcher thread, so PR_SET_PDEATHSIG
// kills the child if the test process dies. The destructor SIGKILLs a
// child still running. Only this child is ever signalled.
#pragma once

#include "support/redis_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace celeriac::test {

struct child_options {
  std::filesystem::path cwd;          // empty: the test's working directory
  std::vector<std::string> env;       // extra "NAME=value" entries
};

class child_process {
 public:
  child_process(std::vector<std::string> args, std::filesystem::path log, child_options options = {})
      : log_(std::move(log)) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    for (auto& e : options.env) env_strings.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string cwd = options.cwd.string();

    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error("child_process: cannot open " + log_.string());
    const pid_t parent = ::getpid();
    pid_ = detail::launcher_thread::run([&]() -> pid_t {
      const pid_t pid = ::fork();
      if (pid != 0) return pid < 0 ? -errno : pid;
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      const int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
      ::close_range(3, ~0U, 0);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    });
    ::close(log_fd);
    if (pid_ < 0) throw std::runtime_error("child_process: fork failed");
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  ~child_process() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      wait_for(std::chrono::seconds(10));
    }
  }

  pid_t pid() const noexcept { return pid_; }

  bool running() {
    if (code_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }

  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }

  // The exit code (128 + signal number if killed), or nullopt if the
  // child is still running after `limit`.
  std::optional<int> wait_for(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return code_;
  }

  // Sends `sig`, waits up to `limit`, then SIGKILLs. Returns the exit code.
  int stop(int sig = SIGTERM, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    signal(sig);
    if (auto c = wait_for(limit)) return *c;
    ::kill(pid_, SIGKILL);
    return wait_for(std::chrono::seconds(10)).value_or(-1);
  }

  std::string log() const {
    std::ifstream in(log_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  const std::filesystem::path& log_path() const noexcept { return log_; }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

}  // namespace celeriac::test
