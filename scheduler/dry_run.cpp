#include "scheduler/dry_run.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace celeriac::scheduler {

namespace {

std::string describe(const schedule_entry& e) {
  std::string out = fmt::format("entry \"{}\" (line {}): task {}, {}, timezone {}, queue {}", e.name, e.line, e.task,
                                e.when.describe(), e.timezone_name, e.queue);
  if (e.args_json != "[]") out += fmt::format(", args {}", e.args_json);
  if (e.kwargs_json != "{}") out += fmt::format(", kwargs {}", e.kwargs_json);
  if (e.priority) out += fmt::format(", priority {}", *e.priority);
  if (e.expires) out += fmt::format(", expires {}s", *e.expires);
  out += fmt::format(", missed {}", to_string(e.missed));
  if (!e.enabled) out += " [disabled: validated but never sent]";
  return out;
}

}  // namespace

std::string format_zoned(std::chrono::sys_seconds t, const date::time_zone* zone) {
  if (zone == nullptr) return date::format("%FT%T+00:00", t);
  return date::format("%FT%T%Ez", date::zoned_seconds{zone, t});
}

std::string format_utc(std::chrono::sys_seconds t) { return date::format("%FT%TZ", t); }

std::vector<std::string> entry_warnings(const schedule_entry& entry) {
  std::vector<std::string> out;
  if (const auto* c = entry.when.cron(); c != nullptr && c->day_fields_ored()) out.emplace_back(day_fields_warning);
  return out;
}

std::vector<std::string> dry_run_report(const std::vector<schedule_entry>& entries, std::chrono::sys_seconds now,
                                        std::size_t n) {
  n = std::min(n, max_dry_run_fires);
  std::vector<std::string> lines;
  std::size_t disabled = 0;
  std::size_t warnings = 0;
  for (const auto& e : entries) {
    lines.push_back(describe(e));
    for (const auto& w : entry_warnings(e)) {
      lines.push_back(fmt::format("  warning: {}", w));
      ++warnings;
    }
    if (!e.enabled) ++disabled;
    auto t = now;
    for (std::size_t i = 0; i < n; ++i) {
      t = e.next_after(t);
      if (t == std::chrono::sys_seconds::max()) {
        lines.emplace_back("  (no further fire times)");
        break;
      }
      lines.push_back(fmt::format("  {}  ({})", format_zoned(t, e.timezone), format_utc(t)));
    }
  }
  lines.push_back(fmt::format("{} {} valid ({} disabled), {} {}", entries.size(),
                              entries.size() == 1 ? "entry" : "entries", disabled, warnings,
                              warnings == 1 ? "warning" : "warnings"));
  return lines;
}

}  // namespace celeriac::scheduler
