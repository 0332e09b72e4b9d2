#pragma once
// Wall-clock time in the forms Celery writes, and parsing of its ISO-8601.
//
// Two clocks, as Sidekiq separates them: wall time (system_clock) for what
// is persisted or compared across machines (eta, expires, unacked_index
// scores, date_done), steady_clock for durations within one process.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace celeriac::util {

using wall_time = std::chrono::sys_time<std::chrono::microseconds>;

// Current wall time with microsecond precision.
wall_time wall_now() noexcept;

// Seconds since the Unix epoch as a float, as Python's time.time() gives
// (kombu's unacked_index scores).
double unix_seconds(wall_time t) noexcept;
wall_time from_unix_seconds(double s) noexcept;

// "2026-11-22T01:49:37.421657+00:00": Python's aware datetime.isoformat()
// in UTC (Celery's eta/expires headers). Microseconds are omitted when
// zero, exactly as Python does.
std::string iso8601_utc(wall_time t);

// "2026-11-22T01:49:37.421657": naive UTC isoformat (result date_done).
std::string iso8601_naive(wall_time t);

// Parses ISO-8601 date-times as Python's datetime.fromisoformat accepts
// them and Celery sends them: "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" with an
// optional "Z" or "±HH:MM[:SS]" offset ('T' or ' ' between date and time).
// A naive value is taken as UTC (Celery with enable_utc). Returns nullopt
// for anything else.
std::optional<wall_time> parse_iso8601(std::string_view text);

}  // namespace celeriac::util
