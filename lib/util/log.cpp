#include "util/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <optional>

#include "util/log_line.hpp"

namespace celeriac::log {
namespace {

std::atomic<level> g_level{level::info};
std::string g_process_name = "MainProcess";
std::atomic<format> g_format{format::text};

// The task this thread runs (task_scope), for JSON lines.
struct running_task {
  std::string name;
  std::string id;
};
thread_local std::optional<running_task> t_task;

void write_all(const std::string& line) {
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::string json_text(level l, std::string_view message) {
  line_fields f;
  f.lvl = l;
  f.time = util::wall_now();
  f.process = g_process_name;
  f.pid = static_cast<long>(::getpid());
  if (t_task) f.task = task_ref{t_task->name, t_task->id};
  else f.task = task_in_message(message);
  f.message = message;
  return json_line(f);
}

}  // namespace

std::string_view level_name(level l) noexcept {
  switch (l) {
    case level::debug: return "DEBUG";
    case level::info: return "INFO";
    case level::warning: return "WARNING";
    case level::error: return "ERROR";
    case level::critical: return "CRITICAL";
  }
  return "?";
}

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

bool parse_format(std::string_view text, format& out) noexcept {
  if (text == "text") out = format::text;
  else if (text == "json") out = format::json;
  else return false;
  return true;
}

void set_level(level l) noexcept { g_level = l; }
void set_format(format f) noexcept { g_format = f; }

task_scope::task_scope(std::string_view name, std::string_view id) {
  if (g_format.load(std::memory_order_relaxed) != format::json) return;
  t_task = running_task{std::string(name), std::string(id)};
  active_ = true;
}

task_scope::~task_scope() {
  if (active_) t_task.reset();
}
level current_level() noexcept { return g_level; }
void set_process_name(std::string name) { g_process_name = std::move(name); }
bool enabled(level l) noexcept { return static_cast<int>(l) >= static_cast<int>(g_level.load()); }

void write(level l, std::string_view message) {
  if (g_format.load(std::memory_order_relaxed) == format::json) {
    write_all(json_text(l, message));
    return;
  }
  using namespace std::chrono;
  auto now = time_point_cast<milliseconds>(system_clock::now());
  auto day = floor<days>(now);
  year_month_day ymd{day};
  hh_mm_ss hms{now - day};
  std::string line = fmt::format("[{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}: {}/{}] {}\n", int(ymd.year()),
                                 unsigned(ymd.month()), unsigned(ymd.day()), hms.hours().count(),
                                 hms.minutes().count(), hms.seconds().count(), hms.subseconds().count(),
                                 level_name(l), g_process_name, message);
  write_all(line);
}

}  // namespace celeriac::log
