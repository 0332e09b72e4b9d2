// Shared pieces of the beat integration tests: a temp folder, the celeriac
// binary, starting beat instances, and reading back what beat sent.
#pragma once

#include <doctest/doctest.h>

#include "child_process.hpp"
#include "support/redis_server.hpp"

#include "celery/message_codec.hpp"
#include "redis/sync_client.hpp"
#include "scheduler/beat_keys.hpp"
#include "util/clock.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace celeriac::test {

using namespace std::chrono_literals;

inline std::string celeriac_bin() {
  if (const char* env = std::getenv("CELERIAC_BIN"); env != nullptr && *env != '\0') return env;
  return CELERIAC_BIN_PATH;
}

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "celeriac-beat-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path operator/(std::string_view name) const { return path / name; }
};

inline void write_file(const std::filesystem::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Starts `celeriac beat` on `file` against `server`, logging to `log`.
inline std::unique_ptr<child_process> start_beat(const redis_server& server, const std::filesystem::path& file,
                                                 const std::filesystem::path& log, long lease_ms,
                                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {celeriac_bin(), "beat", "-s", file.string(), "-b", server.url(),
                                   "--lease-ms", std::to_string(lease_ms), "-l", "debug"};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<child_process>(std::move(args), log);
}

inline std::unique_ptr<redis::sync_client> connect(const redis_server& server) {
  auto c = std::make_unique<redis::sync_client>(*redis::parse_url(server.url()));
  c->connect();
  return c;
}

// The pid in the lease token "<host>:<pid>:<uuid>", or -1 if nobody leads.
inline pid_t lease_holder(redis::sync_client& c, std::string_view name = "default") {
  auto v = c.command("GET", scheduler::make_beat_keys(name).lease);
  if (v.is_nil()) return -1;
  const std::string token(*v.as_string());
  const auto a = token.find(':');
  const auto b = token.find(':', a + 1);
  return static_cast<pid_t>(std::stol(token.substr(a + 1, b - a - 1)));
}

// Waits until one of `pids` holds the lease; returns it (or -1 on timeout).
inline pid_t wait_for_leader(redis::sync_client& c, const std::vector<pid_t>& pids,
                             std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t holder = lease_holder(c);
    for (pid_t p : pids)
      if (p == holder) return p;
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

// Waits until `text` appears in `child`'s log.
inline bool wait_for_log(child_process& child, std::string_view text, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (child.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// Every message in `list`, decoded, oldest first (LPUSH puts new ones left).
inline std::vector<celery::task_message> queued_messages(redis::sync_client& c, std::string_view list = "celery") {
  auto v = c.command("LRANGE", list, 0, -1);
  std::vector<celery::task_message> out;
  auto elements = v.elements();
  REQUIRE(elements.has_value());
  for (auto it = elements->rbegin(); it != elements->rend(); ++it) {
    auto m = celery::decode_message(*it->as_string());
    REQUIRE_MESSAGE(m.has_value(), "beat pushed a message that does not decode: " << *it->as_string());
    out.push_back(std::move(*m));
  }
  return out;
}

inline std::chrono::sys_seconds now_seconds() { return std::chrono::floor<std::chrono::seconds>(util::wall_now()); }

// The ticks of `entry` named by `messages` (matched by their deterministic
// ids within [from, to]), in message order. A message of another entry or
// outside the range fails the test.
inline std::vector<std::chrono::sys_seconds> ticks_of(const std::vector<celery::task_message>& messages,
                                                      std::string_view entry, std::chrono::sys_seconds from,
                                                      std::chrono::sys_seconds to, std::string_view name = "default") {
  std::map<std::string, std::chrono::sys_seconds> by_id;
  for (auto t = from; t <= to; t += std::chrono::seconds(1)) by_id[scheduler::tick_task_id(name, entry, t)] = t;
  std::vector<std::chrono::sys_seconds> out;
  for (const auto& m : messages) {
    auto it = by_id.find(m.headers.id);
    REQUIRE_MESSAGE(it != by_id.end(), "message " << m.headers.id << " is no tick of " << entry << " in the window");
    out.push_back(it->second);
  }
  return out;
}

// Checks that `ticks` holds each second from its first to its last exactly
// once (no duplicate, no gap) and returns how many there are.
inline std::size_t check_exactly_once(std::vector<std::chrono::sys_seconds> ticks) {
  REQUIRE_FALSE(ticks.empty());
  std::map<std::chrono::sys_seconds, int> count;
  for (auto t : ticks) ++count[t];
  std::vector<std::string> problems;
  const auto first = count.begin()->first;
  const auto last = count.rbegin()->first;
  for (auto t = first; t <= last; t += std::chrono::seconds(1)) {
    const int n = count.count(t) ? count[t] : 0;
    if (n != 1) problems.push_back(util::iso8601_utc(util::wall_time(t)) + " sent " + std::to_string(n) + " times");
  }
  std::string report;
  for (const auto& p : problems) report += p + "\n";
  CHECK_MESSAGE(problems.empty(), report);
  return count.size();
}

}  // namespace celeriac::test
