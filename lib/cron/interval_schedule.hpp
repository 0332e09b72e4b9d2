#pragma once
// Fixed-period schedules: `every = "30s"`, "5m", "1h", "1d", "1h30m".
//
// Ticks are the multiples of the period counted from the Unix epoch
// (1970-01-01T00:00:00Z), not from whenever a beat process started, so every
// beat instance names the same tick and a restart does not shift the phase.
// Time zones and DST do not apply: a period is elapsed real time ("1d" ticks
// at 00:00 UTC).

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "cron/error.hpp"

namespace celeriac::cron {

class interval_schedule {
 public:
  // Longest accepted period; longer cadences read better as cron.
  static constexpr std::chrono::seconds max_period{std::chrono::hours{24 * 366}};

  // Parses one or more <number><unit> parts, units d, h, m, s in that order
  // and each at most once, no spaces: "45s", "90m", "1h30m", "1d12h".
  // Errors name the text and what was expected; a zero or over-long period
  // is refused.
  static result<interval_schedule> parse(std::string_view text);

  // Makes a schedule with the given period. Errors as parse() for periods
  // under one second or over max_period.
  static result<interval_schedule> from_period(std::chrono::seconds period);

  // The first tick strictly after t: the next multiple of period() since
  // the epoch; sys_seconds::max() if that is not representable.
  std::chrono::sys_seconds next_after(std::chrono::sys_seconds t) const noexcept;

  // The latest tick at or before t (t itself when t is a tick).
  std::chrono::sys_seconds last_at_or_before(std::chrono::sys_seconds t) const noexcept;

  // The period, at least 1 second and at most max_period.
  std::chrono::seconds period() const noexcept { return period_; }

  // The text as given ("1h30m"), or a canonical form for from_period().
  const std::string& text() const noexcept { return text_; }

  // Equal periods tick at the same instants, however they were written.
  friend bool operator==(const interval_schedule& a, const interval_schedule& b) noexcept {
    return a.period_ == b.period_;
  }

 private:
  interval_schedule(std::chrono::seconds period, std::string text) : period_(period), text_(std::move(text)) {}

  std::chrono::seconds period_;
  std::string text_;
};

}  // namespace celeriac::cron
