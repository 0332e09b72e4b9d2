// celeriac::test::pg_server: a private PostgreSQL server for tests.
//
// Header-only RAII fixture used by every test that needs PostgreSQL:
//
//   celeriac::test::pg_server server;          // initdb'd, started, accepting connections
//   pqxx::connection c{server.url()};          // "postgresql://postgres@127.0.0.1:<port>/postgres"
//   server.stop(); server.restart();           // same port, same data
//   server.kill9(); server.restart();          // crash, then crash recovery
//
//   auto& shared = celeriac::test::shared_pg_server();  // one per test process, for tests
//                                                       // that neither stop nor restart it
//
// What it does:
// 1. finds the server binaries ($CELERIAC_PG_BINDIR, else the newest
//    /usr/lib/postgresql/<version>/bin, else the directory of `postgres` on
//    $PATH);
// 2. as root (initdb and postgres refuse to run as root), makes sure the
//    unprivileged system user `celeriac-test` exists (useradd --system, safe
//    when several test processes race) and runs everything as that user;
//    otherwise runs as the current user;
// 3. makes a temp folder (mkdtemp) owned by that user, and in it
//    `initdb -A trust -U postgres --no-sync -E UTF8 --no-locale`;
// 4. picks a free loopback port and starts
//    `postgres -D DIR/data -p PORT -k DIR -c listen_addresses=127.0.0.1
//     -c fsync=off -c synchronous_commit=off -c full_page_writes=off <extra>`
//    with its log in DIR/postgres.log, retrying with another port if it lost
//    the port to someone else;
// 5. waits (at most ready_timeout) until postmaster.pid names our process and
//    says "ready", else throws std::runtime_error quoting the log.
//
// The destructor stops the server (fast shutdown, SIGKILL after stop_grace)
// and removes the folder. Only processes this fixture started are signalled:
// the postmaster by PID, and (kill9 only) the postmaster's own children. The
// postmaster is told to shut down (SIGQUIT) if the thread that started it
// dies (PR_SET_PDEATHSIG), so a crashed test leaves no server behind.
#pragma once

#include "support/free_port.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace celeriac::test {

class pg_server {
 public:
  // initdb and start-up together; generous because CI machines are slow.
  static constexpr std::chrono::seconds ready_timeout{60};
  // How long stop() waits after asking for a fast shutdown before SIGKILL.
  static constexpr std::chrono::seconds stop_grace{10};
  // The unprivileged user servers run as when the tests run as root.
  static constexpr const char* os_user = "celeriac-test";

  // Creates a cluster and starts it, with `extra_args` appended to the
  // postgres command line (e.g. {"-c", "max_connections=20"}). Throws
  // std::runtime_error with the reason and the log's tail on failure.
  explicit pg_server(std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)), bin_dir_(find_bin_dir()) {
    resolve_user();
    std::string pattern = (std::filesystem::temp_directory_path() / "celeriac-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("pg_server: mkdtemp(" + pattern + ") failed: " + errno_text());
    dir_ = pattern;
    try {
      if (uid_) {
        if (::chown(dir_.c_str(), *uid_, *gid_) != 0)
          throw std::runtime_error("pg_server: chown " + dir_.string() + " to " + os_user + " failed: " +
                                   errno_text());
      }
      ::chmod(dir_.c_str(), 0700);
      run_initdb();
      for (int attempt = 0;; ++attempt) {
        port_ = free_port();
        if (launch()) break;
        if (attempt == 4) throw std::runtime_error("pg_server: lost the port race 5 times in a row");
      }
    } catch (...) {
      kill_now();
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      throw;
    }
  }

  ~pg_server() {
    try {
      stop();
    } catch (...) {
      kill_now();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  pg_server(const pg_server&) = delete;
  pg_server& operator=(const pg_server&) = delete;

  // "postgresql://postgres@127.0.0.1:<port>/<database>" (trust auth: no password).
  std::string url(std::string_view database = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + std::string(database);
  }
  std::uint16_t port() const noexcept { return port_; }
  const std::filesystem::path& dir() const noexcept { return dir_; }
  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }

  // Fast shutdown (SIGINT: open sessions are disconnected, transactions
  // rolled back), SIGKILL after stop_grace. Does nothing when not running.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    if (!wait_exit(stop_grace)) kill_now();
  }

  // Starts the server again on the same port with the same data (after
  // stop() or kill9(); crash recovery runs after kill9). Throws if it does
  // not come up, e.g. because another process took the port meanwhile.
  void restart() {
    stop();
    if (!launch())
      throw std::runtime_error("pg_server: cannot restart on port " + std::to_string(port_) +
                               ": the port was taken meanwhile\n" + log_tail());
  }

  // Simulates a crash: SIGKILL to the postmaster and to its children (the
  // backends holding client connections), without any shutdown. With the
  // fixture's synchronous_commit=off the last commits (up to ~0.6 s) are
  // lost, as on any server so configured: tests that check durability
  // across a crash pass {"-c", "synchronous_commit=on"}.
  void kill9() {
    if (pid_ <= 0) return;
    kill_now();
  }

  // The last `bytes` of the server log, for failure messages.
  std::string log_tail(std::size_t bytes = 4000) const { return tail_of(dir_ / "postgres.log", bytes); }

 private:
  static std::string errno_text() { return std::generic_category().message(errno); }

  static std::string tail_of(const std::filesystem::path& file, std::size_t bytes) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    return text.size() > bytes ? text.substr(text.size() - bytes) : text;
  }

  static std::filesystem::path find_bin_dir() {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("CELERIAC_PG_BINDIR"); env && *env) return env;
    std::error_code ec;
    std::vector<std::pair<int, fs::path>> found;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
      const std::string v = e.path().filename().string();
      if (!v.empty() && std::all_of(v.begin(), v.end(), ::isdigit) && fs::exists(e.path() / "bin" / "postgres"))
        found.emplace_back(std::stoi(v), e.path() / "bin");
    }
    if (!found.empty()) return std::max_element(found.begin(), found.end())->second;
    if (const char* path = std::getenv("PATH")) {
      std::stringstream ss(path);
      for (std::string d; std::getline(ss, d, ':');)
        if (!d.empty() && fs::exists(fs::path(d) / "postgres") && fs::exists(fs::path(d) / "initdb")) return d;
    }
    throw std::runtime_error(
        "pg_server: PostgreSQL server binaries not found (looked in $CELERIAC_PG_BINDIR, "
        "/usr/lib/postgresql/*/bin and $PATH); install them with scripts/install-deps");
  }

  // As root, resolves (creating if needed) the unprivileged user.
  void resolve_user() {
    if (::geteuid() != 0) return;
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (const passwd* pw = ::getpwnam(os_user)) {
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        return;
      }
      // Exit status 9 (already exists) and 10 (passwd file busy) both mean
      // another test process is at it: look again shortly.
      run_and_wait({"/usr/sbin/useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                    "/usr/sbin/nologin", "--user-group", os_user},
                   "/dev/null", false);
      if (::getpwnam(os_user) == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error(std::string("pg_server: cannot create the system user ") + os_user +
                             " (useradd failed); create it by hand: useradd --system " + os_user);
  }

  // fork + exec, as the unprivileged user when there is one; stdout and
  // stderr appended to log_path. Only async-signal-safe calls in the child.
  pid_t spawn(const std::vector<std::string>& args, const std::string& log_path, bool as_user, bool die_with_parent) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string home = "HOME=" + dir_.string();
    const char* envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", home.c_str(), nullptr};
    const bool drop = as_user && uid_.has_value();
    const uid_t uid = drop ? *uid_ : 0;
    const gid_t gid = drop ? *gid_ : 0;
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("pg_server: fork failed: " + errno_text());
    if (pid == 0) {
      const int in = ::open("/dev/null", O_RDONLY);
      const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (in < 0 || out < 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      if (drop && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) ::_exit(126);
      // After setuid: changing credentials clears the death signal.
      if (die_with_parent && (::prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || ::getppid() != parent)) ::_exit(126);
      if (as_user && ::chdir(dir_.c_str()) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), const_cast<char* const*>(envp));
      ::_exit(127);
    }
    return pid;
  }

  int run_and_wait(const std::vector<std::string>& args, const std::string& log_path, bool as_user) {
    const pid_t pid = spawn(args, log_path, as_user, false);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void run_initdb() {
    const std::string log = (dir_ / "initdb.log").string();
    const int rc = run_and_wait({(bin_dir_ / "initdb").string(), "-D", (dir_ / "data").string(), "-A", "trust", "-U",
                                 "postgres", "--no-sync", "-E", "UTF8", "--no-locale"},
                                log, true);
    if (rc != 0)
      throw std::runtime_error("pg_server: initdb exited with status " + std::to_string(rc) + "\n" +
                               tail_of(log, 4000));
  }

  // Starts postgres on port_. Returns false if it lost the port; throws on
  // any other failure.
  bool launch() {
    std::vector<std::string> args = {(bin_dir_ / "postgres").string(),
                                     "-D",
                                     (dir_ / "data").string(),
                                     "-p",
                                     std::to_string(port_),
                                     "-k",
                                     dir_.string(),
                                     "-c",
                                     "listen_addresses=127.0.0.1",
                                     "-c",
                                     "fsync=off",
                                     "-c",
                                     "synchronous_commit=off",
                                     "-c",
                                     "full_page_writes=off"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    const auto log_path = dir_ / "postgres.log";
    std::error_code ec;
    const auto log_start = std::filesystem::exists(log_path, ec) ? std::filesystem::file_size(log_path, ec) : 0;
    pid_ = spawn(args, log_path.string(), true, true);

    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        const std::string log = tail_of(log_path, std::string::npos);
        const std::string fresh = log.size() > log_start ? log.substr(log_start) : std::string();
        if (fresh.find("could not bind IPv4 address") != std::string::npos &&
            fresh.find("Address already in use") != std::string::npos)
          return false;
        throw std::runtime_error("pg_server: postgres exited during start-up\n" + log_tail());
      }
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill_now();
    throw std::runtime_error("pg_server: postgres not ready after " + std::to_string(ready_timeout.count()) + " s\n" +
                             log_tail());
  }

  // postmaster.pid: line 1 is the PID, line 8 the status ("ready" once it
  // accepts connections). A stale file from a killed server names another PID.
  bool ready() const {
    std::ifstream in(dir_ / "data" / "postmaster.pid");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    if (lines.size() < 8) return false;
    const auto status = lines[7].substr(0, lines[7].find_last_not_of(' ') + 1);
    return lines[0] == std::to_string(pid_) && status == "ready";
  }

  // Waits for the postmaster to exit; false on timeout.
  bool wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        pid_ = -1;
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  // PIDs whose parent is `parent`, from /proc.
  static std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    DIR* proc = ::opendir("/proc");
    if (!proc) return out;
    while (const dirent* e = ::readdir(proc)) {
      const std::string name = e->d_name;
      if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
      std::ifstream stat("/proc/" + name + "/stat");
      std::string text;
      std::getline(stat, text);
      // Fields after the parenthesised command: state, ppid, ...
      const auto close = text.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream fields(text.substr(close + 1));
      char state = 0;
      pid_t ppid = 0;
      fields >> state >> ppid;
      if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    ::closedir(proc);
    return out;
  }

  // Gone, or a zombie nobody has reaped yet (holds no resources).
  static bool gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return true;
    const auto close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
  }

  // SIGKILL to the postmaster and its children; waits until all are gone so
  // that a restart finds the data directory and shared memory free.
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGSTOP);  // no new children between listing and killing
    const auto children = children_of(pid_);
    ::kill(pid_, SIGKILL);
    for (pid_t c : children) ::kill(c, SIGKILL);
    wait_exit(std::chrono::seconds(10));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (pid_t c : children)
      while (!gone(c) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    pid_ = -1;
  }

  std::vector<std::string> extra_args_;
  std::filesystem::path bin_dir_;
  std::filesystem::path dir_;
  std::optional<uid_t> uid_;
  std::optional<gid_t> gid_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// One server shared by the tests of a process that neither stop nor restart
// it; started on first use, stopped at exit. Tests keep out of each other's
// way with their own databases or task ids.
inline pg_server& shared_pg_server() {
  static pg_server server;
  return server;
}

}  // namespace celeriac::test
