#include "util/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>

namespace celeriac::log {
namespace {

std::atomic<level> g_level{level::info};
std::string g_process_name = "MainProcess";

std::string_view level_name(level l) {
  switch (l) {
    case level::debug: return "DEBUG";
    case level::info: return "INFO";
    case level::warning: return "WARNING";
    case level::error: return "ERROR";
    case level::critical: return "CRITICAL";
  }
  return "?";
}

}  // namespace

bool parse_level(std::string_view text, level& out) noexcept {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "debug") out = level::debug;
  else if (lower == "info") out = level::info;
  else if (lower == "warning" || lower == "warn") out = level::warning;
  else if (lower == "error") out = level::error;
  else if (lower == "critical" || lower == "fatal") out = level::critical;
  else return false;
  return true;
}

void set_level(level l) noexcept { g_level = l; }
level current_level() noexcept { return g_level; }
void set_process_name(std::string name) { g_process_name = std::move(name); }
bool enabled(level l) noexcept { return static_cast<int>(l) >= static_cast<int>(g_level.load()); }

void write(level l, std::string_view message) {
  using namespace std::chrono;
  auto now = time_point_cast<milliseconds>(system_clock::now());
  auto day = floor<days>(now);
  year_month_day ymd{day};
  hh_mm_ss hms{now - day};
  std::string line = fmt::format("[{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}: {}/{}] {}\n", int(ymd.year()),
                                 unsigned(ymd.month()), unsigned(ymd.day()), hms.hours().count(),
                                 hms.minutes().count(), hms.seconds().count(), hms.subseconds().count(),
                                 level_name(l), g_process_name, message);
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace celeriac::log
