// --dry-run output: each entry, its warnings, its next fire times in its
// zone and in UTC.

#include <doctest/doctest.h>

#include <string>

#include "scheduler/dry_run.hpp"
#include "scheduler/schedule_file.hpp"

using namespace celeriac::scheduler;
using strings = std::vector<std::string>;

namespace {

std::vector<schedule_entry> entries_of(std::string_view text) {
  auto r = parse_schedule(text, "s.toml");
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().to_string()));
  return std::move(*r);
}

std::chrono::sys_seconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
  return date::sys_days{date::year{y} / mo / d} + std::chrono::hours{h} + std::chrono::minutes{mi};
}

}  // namespace

TEST_CASE("dry run lists fire times in the entry's zone and in UTC, across a DST change") {
  auto entries = entries_of(R"([[entry]]
name = "nightly"
task = "t.nightly"
cron = "30 2 * * *"
timezone = "America/New_York"
queue = "analytics"
)");
  auto lines = dry_run_report(entries, utc(2026, 3, 7, 12), 3);
  CHECK(lines == strings{
                     "entry \"nightly\" (line 1): task t.nightly, cron \"30 2 * * *\", timezone America/New_York, "
                     "queue analytics, missed run_once",
                     "  2026-03-08T03:00:00-04:00  (2026-03-08T07:00:00Z)",
                     "  2026-03-09T02:30:00-04:00  (2026-03-09T06:30:00Z)",
                     "  2026-03-10T02:30:00-04:00  (2026-03-10T06:30:00Z)",
                     "1 entry valid (0 disabled), 0 warnings",
                 });
}

TEST_CASE("dry run warns when both day fields are restricted") {
  auto entries = entries_of(R"([[entry]]
name = "month-start-or-monday"
task = "t.report"
cron = "0 6 1 * mon"
args = [1]
kwargs = { full = true }
priority = 3
expires = 60
missed = "skip"
enabled = false

[[entry]]
name = "mondays"
task = "t.report"
cron = "0 6 * * mon"
)");
  auto lines = dry_run_report(entries, utc(2026, 5, 30), 2);
  CHECK(lines == strings{
                     "entry \"month-start-or-monday\" (line 1): task t.report, cron \"0 6 1 * mon\", timezone UTC, "
                     "queue celery, args [1], kwargs {\"full\": true}, priority 3, expires 60s, missed skip "
                     "[disabled: validated but never sent]",
                     "  warning: cron ORs day-of-month and day-of-week; Celery's crontab ANDs them",
                     "  2026-06-01T06:00:00+00:00  (2026-06-01T06:00:00Z)",
                     "  2026-06-08T06:00:00+00:00  (2026-06-08T06:00:00Z)",
                     "entry \"mondays\" (line 12): task t.report, cron \"0 6 * * mon\", timezone UTC, queue celery, "
                     "missed run_once",
                     "  2026-06-01T06:00:00+00:00  (2026-06-01T06:00:00Z)",
                     "  2026-06-08T06:00:00+00:00  (2026-06-08T06:00:00Z)",
                     "2 entries valid (1 disabled), 1 warning",
                 });
  CHECK(entry_warnings(entries[0]) == strings{std::string(day_fields_warning)});
  CHECK(entry_warnings(entries[1]).empty());
}

TEST_CASE("dry run of an interval entry, and n = 0") {
  auto entries = entries_of("[[entry]]\nname = \"demo\"\ntask = \"celeriac.add\"\nevery = \"10s\"\nargs = [2, 3]\n");
  auto lines = dry_run_report(entries, utc(2026, 1, 1) + std::chrono::seconds{5}, 2);
  CHECK(lines == strings{
                     "entry \"demo\" (line 1): task celeriac.add, every \"10s\", timezone UTC, queue celery, args "
                     "[2, 3], missed run_once",
                     "  2026-01-01T00:00:10+00:00  (2026-01-01T00:00:10Z)",
                     "  2026-01-01T00:00:20+00:00  (2026-01-01T00:00:20Z)",
                     "1 entry valid (0 disabled), 0 warnings",
                 });
  CHECK(dry_run_report(entries, utc(2026, 1, 1), 0).size() == 2);
}

TEST_CASE("dry run clamps absurd counts") {
  auto entries = entries_of("[[entry]]\nname = \"m\"\ntask = \"t\"\ncron = \"* * * * *\"\n");
  CHECK(dry_run_report(entries, utc(2026, 1, 1), 1'000'000).size() == max_dry_run_fires + 2);
}

TEST_CASE("formatting helpers") {
  const auto* london = date::locate_zone("Europe/London");
  CHECK(format_zoned(utc(2026, 7, 1, 12), london) == "2026-07-01T13:00:00+01:00");
  CHECK(format_zoned(utc(2026, 7, 1, 12), nullptr) == "2026-07-01T12:00:00+00:00");
  CHECK(format_utc(utc(2026, 7, 1, 12)) == "2026-07-01T12:00:00Z");
}
