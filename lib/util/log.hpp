#pragma once
// Log lines in Celery's layout, so operators' greps keep working:
//   [2026-11-22 01:49:37,421: INFO/MainProcess] Task celeriac.add[id] succeeded in 0.0001s: 5
// Each line goes out in one write(2) to stderr, so lines from the parent
// and its children never interleave mid-line.

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace celeriac::log {

enum class level { debug = 10, info = 20, warning = 30, error = 40, critical = 50 };

// Parses "debug", "INFO", "warning"/"warn", "error", "critical"
// (case-insensitive). Returns false for anything else.
bool parse_level(std::string_view text, level& out) noexcept;
// "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL" (Celery's levelname).
std::string_view level_name(level l) noexcept;

// text: Celery's layout above (the default). json: one JSON object per
// line with Celery's record fields (util/log_line.hpp).
enum class format { text, json };
// Parses "text" or "json". Returns false for anything else.
bool parse_format(std::string_view text, format& out) noexcept;

// Global settings for this process (set once at start-up, and again in a
// forked child for the process name).
void set_level(level l) noexcept;
level current_level() noexcept;
void set_process_name(std::string name);  // "MainProcess", "Worker-1", "Beat"
void set_format(format f) noexcept;

// While alive, JSON lines written by this thread carry this task's name
// and id (the executor thread around each task). Free with the text format.
class task_scope {
public:
  task_scope(std::string_view name, std::string_view id);
  ~task_scope();
  task_scope(const task_scope&) = delete;
  task_scope& operator=(const task_scope&) = delete;

private:
  bool active_ = false;
};

bool enabled(level l) noexcept;
void write(level l, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::debug)) write(level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::info)) write(level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::warning)) write(level::warning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::error)) write(level::error, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void critical(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level::critical)) write(level::critical, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace celeriac::log
