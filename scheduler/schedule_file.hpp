#pragma once
// The beat schedule file: TOML with one [[entry]] table per entry.
//
//   [[entry]]
//   name = "dashboard-stats"                     # required, unique, [A-Za-z0-9_.:-]
//   task = "celeriac.analytics.dashboard_stats"  # required
//   cron = "*/5 * * * *"                         # exactly one of cron / every
//   every = "30s"                                #   (see lib/cron for both syntaxes)
//   args = [2, 3]                                # array, default []
//   kwargs = { view = "merchant_stats" }         # table, default {}
//   queue = "analytics"                          # default "celery"
//   priority = 5                                 # integer 0-9, optional
//   expires = 300                                # seconds (integer or float > 0), optional
//   timezone = "America/New_York"                # IANA name, default "UTC"
//   missed = "run_once"                          # or "skip"; default "run_once"
//   enabled = true                               # default true
//
// Validation collects every problem in the file rather than stopping at the
// first, each as `FILE:LINE: entry "NAME": what is wrong` (or `entry #N` when
// the name itself is missing or bad), so one run of `beat --dry-run` shows
// everything to fix.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "scheduler/schedule_entry.hpp"

namespace celeriac::scheduler {

struct schedule_file_error {
  std::vector<std::string> messages;  // one per problem, in file order

  // All messages, one per line, for printing.
  std::string to_string() const;
};

template <class T>
using schedule_result = boost::system::result<T, schedule_file_error>;

// Largest schedule file accepted; a schedule is a few dozen entries.
inline constexpr std::size_t max_schedule_file_bytes = 1 << 20;

// Parses schedule-file text; `source_name` (usually the path) prefixes
// every message. Returns the entries in file order, or every problem found:
// TOML syntax errors, unknown keys, wrong types, bad cron or every values,
// unknown time zones, duplicate names, a file without entries.
schedule_result<std::vector<schedule_entry>> parse_schedule(std::string_view toml_text,
                                                            std::string_view source_name);

// Reads `path` and parses it as parse_schedule does. An unreadable or
// oversized file is an error naming the path.
schedule_result<std::vector<schedule_entry>> load_schedule_file(const std::filesystem::path& path);

// Lets result::value() throw std::invalid_argument(to_string()). Found by ADL.
[[noreturn]] void throw_exception_from_error(const schedule_file_error& e, const boost::source_location& loc);

}  // namespace celeriac::scheduler
