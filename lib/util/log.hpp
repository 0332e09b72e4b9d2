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

// Global settings for this process (set once at start-up, and again in a
// forked child for the process name).
void set_level(level l) noexcept;
level current_level() noexcept;
void set_process_name(std::string name);  // "MainProcess", "Worker-1", "Beat"

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
