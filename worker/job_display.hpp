#pragma once
// How `celeriac status` and `celeriac jobs` show a job: quantities, rates,
// durations, a progress bar, and a table. Pure functions (no I/O), so the
// exact text is unit-tested.
//
//   [#########.........] 45% 38.2 MB/84.9 MB  412k rows/s  ETA 0:07

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/job_query.hpp"
#include "util/clock.hpp"

namespace celeriac::worker {

// 950 -> "950 B", 38'200'000 -> "38.2 MB" for unit "bytes" (decimal
// prefixes); other units are counted: 412'000 -> "412k rows".
std::string format_amount(std::int64_t n, std::string_view unit);

// Per-second rates: "12.3 MB/s", "412k rows/s", "3.5 items/s".
std::string format_rate(double per_second, std::string_view unit);

// "0:07", "12:30", "1:02:03" (h:mm:ss); negative or NaN as "-".
std::string format_duration(double seconds);

// "[#########.........]" with `width` cells between the brackets;
// fraction is clamped to [0, 1].
std::string progress_bar(double fraction, int width);

// Rates from successive observations of one job (progress_done and, when
// the job reports it in meta, rows_loaded), timed by the row's updated_at
// so that how often the caller looks does not matter. Keeps the last
// `window` of observations.
class rate_meter {
public:
  explicit rate_meter(std::chrono::seconds window = std::chrono::seconds(10)) : window_(window) {}

  // Adds an observation; one with the same time as the last replaces it.
  // A job that went back (a new attempt started lower) restarts the meter.
  void add(util::wall_time at, std::int64_t done, std::optional<std::int64_t> rows);

  // progress_done per second over the window; nullopt with fewer than two
  // observations a moment apart.
  std::optional<double> rate() const;
  // rows_loaded per second, likewise.
  std::optional<double> row_rate() const;

private:
  struct sample {
    util::wall_time at;
    std::int64_t done;
    std::optional<std::int64_t> rows;
  };
  std::chrono::seconds window_;
  std::deque<sample> samples_;
};

// The live line of `status --watch`: the bar, percent and amounts when the
// total is known, then the rate(s) and the ETA when they are known, e.g.
//   [#########.........] 45% 38.2 MB/84.9 MB  412k rows/s  ETA 0:07
// A job with no progress shows its state: "STARTED", "RECEIVED".
std::string progress_line(const pg::job_row& job, const rate_meter& meter, int bar_width = 20);

// rows_loaded from a job's meta, when it has one.
std::optional<std::int64_t> meta_rows_loaded(const pg::job_row& job);

// The whole record, one "label  value" line each, for `celeriac status`.
std::string describe_job(const pg::job_row& job);

// `celeriac jobs`: a table with a header line, columns padded to fit:
//   TASK ID  NAME  STATE  PROGRESS  ATTEMPTS  WORKER  CREATED (UTC)  RUNTIME
std::string jobs_table(const std::vector<pg::job_row>& jobs, util::wall_time now);

// "2026-11-22 01:49:37" (UTC, whole seconds).
std::string format_time(util::wall_time t);

}  // namespace celeriac::worker
