// celeriac::test::redis_server: a private redis-server for one test.
//
// Header-only RAII fixture used by every integration test that needs Redis:
//
//   celeriac::test::redis_server server;                   // started and answering PING
//   celeriac::test::redis_server secured{{"--requirepass", "s3cret"}};
//   connect_to(server.url());                             // "redis://127.0.0.1:<port>/0"
//   server.stop(); server.restart();                       // same port, fresh empty data
//
// What it does:
// 1. finds redis-server ($CELERIAC_REDIS_SERVER, then $PATH, then /usr/bin);
// 2. makes a temp folder (mkdtemp) holding the server's working dir and log;
// 3. picks a free loopback port and launches
//    `redis-server --port P --bind 127.0.0.1 --dir TMP --save "" --appendonly no
//     --daemonize no <extra args>` with stdout/stderr in TMP/redis.log; if the
//    port was taken in the meantime it retries with another port;
// 4. waits until the port answers PING (+PONG, or -NOAUTH when a password is
//    set), at most 10 s, else throws std::runtime_error quoting the log.
// The destructor stops the server (SIGTERM, SIGKILL after 5 s) and removes
// the folder. Only the child it started is ever signalled. The child is also
// told to die with its parent (PR_SET_PDEATHSIG), so a crashed test run
// leaves no server behind. Linux ties that signal to the forking *thread*,
// so every fork happens on one launcher thread that lives until exit: a
// server started or restarted from a short-lived thread survives it.
#pragma once

#include "support/free_port.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace celeriac::test {

namespace detail {

// Runs fork-and-exec jobs on one thread that lives until the process
// exits, so PR_SET_PDEATHSIG in the children fires only then.
class launcher_thread {
 public:
  // Runs `job` on the launcher thread and returns its result.
  static pid_t run(std::function<pid_t()> job) {
    static launcher_thread instance;
    std::packaged_task<pid_t()> task(std::move(job));
    auto result = task.get_future();
    {
      std::lock_guard lock(instance.mutex_);
      instance.jobs_.push_back(std::move(task));
    }
    instance.ready_.notify_one();
    return result.get();
  }

  ~launcher_thread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }

 private:
  launcher_thread() : thread_([this] { loop(); }) {}

  void loop() {
    for (;;) {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<pid_t()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the rest is built
};

}  // namespace detail

class redis_server {
 public:
  // How long start-up may take before the fixture gives up.
  static constexpr std::chrono::seconds ready_timeout{10};
  // How long stop() waits after SIGTERM before sending SIGKILL.
  static constexpr std::chrono::seconds stop_grace{5};

  // Starts a server with `extra_args` appended to the command line (e.g.
  // {"--requirepass", "pw"}). Throws std::runtime_error if redis-server is
  // missing, cannot start, or does not answer within ready_timeout.
  explicit redis_server(std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)), executable_(find_executable()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "celeriac-redis-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("redis_server: mkdtemp(" + pattern + ") failed: " +
                               std::generic_category().message(errno));
    }
    dir_ = pattern;
    try {
      for (int attempt = 0;; ++attempt) {
        port_ = free_port();
        if (launch() || attempt == 4) break;  // false: lost the port race, pick another
      }
      if (pid_ <= 0) throw std::runtime_error("redis_server: no free port after 5 attempts");
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      throw;
    }
  }

  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  // Stops the server and deletes its folder; never throws.
  ~redis_server() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::uint16_t port() const noexcept { return port_; }
  std::string host() const { return "127.0.0.1"; }
  // "redis://127.0.0.1:<port>/0", the URL a client should use.
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::filesystem::path log_path() const { return dir_ / "redis.log"; }
  // The server's pid, or -1 while stopped.
  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }

  // Stops the server: SIGTERM, then SIGKILL if it has not exited after
  // stop_grace. Reaps the child. No effect when already stopped.
  void stop() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + stop_grace;
    while (!reaped() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  // Stops the server if it runs and starts it again on the same port with
  // the same arguments (data is not kept: persistence is off). Throws
  // std::runtime_error if it cannot start, e.g. because another process
  // took the port meanwhile.
  void restart() {
    stop();
    if (!launch()) {
      throw std::runtime_error("redis_server: port " + std::to_string(port_) +
                               " was taken by another process; cannot restart on it");
    }
  }

  // The last `max_bytes` of the server's log, for failure messages.
  std::string log_tail(std::size_t max_bytes = 2000) const {
    std::ifstream in(log_path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
  }

 private:
  // Locates the redis-server binary or throws with what to install.
  static std::string find_executable() {
    if (const char* env = std::getenv("CELERIAC_REDIS_SERVER"); env != nullptr && *env != '\0') {
      if (::access(env, X_OK) == 0) return env;
      throw std::runtime_error(std::string("redis_server: CELERIAC_REDIS_SERVER=") + env +
                               " is not an executable file");
    }
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH"); path != nullptr) {
      std::string_view rest = path;
      while (!rest.empty()) {
        const auto colon = rest.find(':');
        dirs.emplace_back(rest.substr(0, colon));
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      }
    }
    dirs.emplace_back("/usr/bin");
    dirs.emplace_back("/usr/local/bin");
    for (const auto& d : dirs) {
      if (d.empty()) continue;
      const std::string candidate = d + "/redis-server";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    throw std::runtime_error(
        "redis_server: redis-server not found in $PATH or /usr/bin; install the redis-server "
        "package or set CELERIAC_REDIS_SERVER to its path");
  }

  // Reaps the child if it has exited; true (and pid_ = -1) if so.
  bool reaped() noexcept {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }

  // Starts the server on port_ and waits until it answers. Returns false
  // if it exited because the port was in use; throws on any other failure.
  bool launch() {
    const std::string port = std::to_string(port_);
    const std::string dir = dir_.string();
    const std::string log = log_path().string();
    std::vector<std::string> args = {executable_, "--port", port, "--bind", "127.0.0.1",
                                     "--dir", dir, "--save", "", "--appendonly", "no",
                                     "--daemonize", "no"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // Truncate the log so a failure message shows this launch only.
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      throw std::runtime_error("redis_server: cannot create " + log + ": " +
                               std::generic_category().message(errno));
    }
    const pid_t parent = ::getpid();
    const pid_t child = detail::launcher_thread::run([&]() -> pid_t {
      const pid_t pid = ::fork();
      if (pid < 0) return -errno;  // errno is per thread: hand it back
      if (pid != 0) return pid;
      // In the child: only async-signal-safe calls until exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      const int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
      ::close_range(3, ~0U, 0);  // no test sockets leak into the server
      ::execv(argv[0], argv.data());
      ::_exit(127);
    });
    if (child < 0) {
      ::close(log_fd);
      throw std::runtime_error("redis_server: fork failed: " + std::generic_category().message(-child));
    }
    ::close(log_fd);
    pid_ = child;

    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (reaped()) {
        const std::string tail = log_tail();
        if (tail.find("Address already in use") != std::string::npos) return false;
        throw std::runtime_error("redis_server: " + executable_ + " on port " + port +
                                 " exited during start-up; log " + log + ":\n" + tail);
      }
      // Our own log says it listens: a PING alone could be answered by
      // another test's server that was handed the same port before either
      // bound it (ours then fails to bind).
      if (log_tail().find("Ready to accept connections") != std::string::npos && answers_ping()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    throw std::runtime_error("redis_server: " + executable_ + " on port " + port +
                             " did not answer PING within 10 s; log " + log + ":\n" + log_tail());
  }

  // True if 127.0.0.1:port_ replies to an inline PING like a ready server.
  bool answers_ping() const noexcept {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    bool ready = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
      char buf[64];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      const std::string_view reply(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      // -NOAUTH: a password is required, so the server is up. -LOADING and
      // friends mean it is not ready yet.
      ready = reply.starts_with("+PONG") || reply.starts_with("-NOAUTH");
    }
    ::close(fd);
    return ready;
  }

  std::vector<std::string> extra_args_;
  std::string executable_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace celeriac::test
