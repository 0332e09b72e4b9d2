#pragma once
// `celeriac beat --schedule FILE --dry-run [--next N]`: what each entry would
// send and its next N fire times, with the warnings a reader of the file
// should see before running it for real.
//
// Output (one string per line):
//   entry "dashboard-stats" (line 12): task celeriac.analytics.dashboard_stats, cron "*/5 * * * *",
//     timezone America/New_York, queue analytics, missed run_once
//     2026-03-08T01:55:00-05:00  (2026-03-08T06:55:00Z)
//     ...
// Fire times are in the entry's zone with its offset, then in UTC.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "scheduler/schedule_entry.hpp"

namespace celeriac::scheduler {

// Most fire times listed per entry; larger requests are clamped.
inline constexpr std::size_t max_dry_run_fires = 1000;

// The warning for an entry whose cron expression restricts both day fields.
inline constexpr std::string_view day_fields_warning =
    "cron ORs day-of-month and day-of-week; Celery's crontab ANDs them";

// Lines describing every entry and its next `n` fire times strictly after
// `now` (n clamped to max_dry_run_fires), followed by a summary line.
// Disabled entries are listed, marked as such, with their would-be times.
std::vector<std::string> dry_run_report(const std::vector<schedule_entry>& entries, std::chrono::sys_seconds now,
                                        std::size_t n);

// Warnings for one entry (currently: the day-of-month/day-of-week rule);
// empty when there is nothing to say.
std::vector<std::string> entry_warnings(const schedule_entry& entry);

// "2026-03-08T03:00:00-04:00": t in `zone` (nullptr = UTC) with its offset.
std::string format_zoned(std::chrono::sys_seconds t, const date::time_zone* zone);

// "2026-03-08T07:00:00Z".
std::string format_utc(std::chrono::sys_seconds t);

}  // namespace celeriac::scheduler
