#pragma once
// Five-field cron expressions with the semantics of Debian's cron(8).
//
// Syntax (crontab(5)): "minute hour day-of-month month day-of-week",
// separated by spaces or tabs. Each field is a comma list of items:
//   *        every value            N        one value
//   N-M      N through M            */S      every S-th value from the first
//   N-M/S    every S-th value from N through M
// Ranges:  minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or
// jan-dec, day-of-week 0-7 or sun-sat (0 and 7 are both Sunday). Names are
// three letters, any case, and may bound a range ("mon-fri"). Ranges do not
// wrap ("fri-mon" is an error). A step needs '*' or a range: "5/10" is
// refused, since Celery's crontab rejects it and crons disagree on what it
// means (cronie reads 5-59/10). Macros (lower
// case, whole expression): @yearly = @annually = "0 0 1 1 *", @monthly =
// "0 0 1 * *", @weekly = "0 0 * * 0", @daily = @midnight = "0 0 * * *",
// @hourly = "0 * * * *". @reboot is refused: beat fires on time, not on boot.
// An expression that can never fire ("0 0 30 2 *") is refused too.
//
// Day rule (crontab(5)): when both day fields are restricted, i.e. neither
// starts with '*', a day matches if EITHER matches; otherwise both must
// match (so "*/2" counts as unrestricted, exactly as in cron). Celery's
// crontab always ANDs the two, which day_fields_ored() lets dry-run flag.
//
// Time zones and DST: an expression is evaluated on the local wall clock of
// its zone. Like Debian's cron(8), which calls a job "wildcard" when its
// minute or hour field starts with '*' (entry.c sets MIN_STAR / HR_STAR),
// two behaviours exist:
//   - fixed time (neither minute nor hour starts with '*', e.g. "30 2 * * *",
//     "0,30 9-17 * * *", "@daily"): wall-clock semantics. A matching local
//     time L fires at the first instant the zone's clock reads L or later.
//     So a time skipped by spring-forward fires once, right after the jump
//     (at the transition instant), and a time repeated by fall-back fires
//     once, at its first occurrence. Several matches inside one gap collapse
//     into that one fire.
//   - wildcard (minute or hour starts with '*', e.g. "*/5 * * * *",
//     "0 * * * *", "@hourly", "15 */2 * * *"): real-time semantics. It fires
//     at every instant whose local time is a matching minute: twice for a
//     match in a repeated hour (once per offset), never for a local time that
//     a spring-forward skipped.
// This is what cron(8)'s DST handling produces for a one-hour change (its
// "wokeup late / went to DST / DST ending" cases), stated per fire time
// instead of per wake-up so that every beat instance computes the same ticks.
//
// All fire times are whole local minutes; next_after is pure (it reads tzdb
// rules through date/tz only) and cheap: it jumps over months and days that
// cannot match instead of scanning minutes. Zone rules come from the system
// zoneinfo, whose reader stops applying DST after 2037 (see time_zone.hpp).

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <date/tz.h>

#include "cron/error.hpp"

namespace celeriac::cron {

class cron_expression {
 public:
  // Parses a cron expression (see the top of this file). Leading and
  // trailing whitespace is ignored. Errors name the field and the reason,
  // e.g. `minute field "61": 61 is out of range 0-59`,
  // `expected 5 fields (minute hour day-of-month month day-of-week), got 6`.
  static result<cron_expression> parse(std::string_view text);

  // Returns the first fire time strictly after t in `zone` (nullptr means
  // UTC), under the DST rules above. Fire times form a fixed set, so the
  // result is non-decreasing in t and every caller names the same ticks.
  // Returns sys_seconds::max() if nothing fires within 400 years of t, which
  // cannot happen for an expression parse() accepted.
  std::chrono::sys_seconds next_after(std::chrono::sys_seconds t, const date::time_zone* zone) const;

  // True when the minute or hour field starts with '*' (cron's "wildcard"
  // job): the expression follows real time across DST changes. False means
  // it follows the wall clock.
  bool follows_real_time() const noexcept { return minute_star_ || hour_star_; }

  // True when both day fields are restricted, so cron fires on days that
  // match either field, where Celery's crontab would require both.
  bool day_fields_ored() const noexcept { return !dom_star_ && !dow_star_; }

  // The expression as given, trimmed: "*/5 * * * *", "@daily".
  const std::string& text() const noexcept { return text_; }

  // Field membership, for tests and tools: minute 0-59, hour 0-23, day of
  // month 1-31, month 1-12, weekday 0-6 (0 = Sunday). Out-of-range → false.
  bool has_minute(unsigned m) const noexcept { return m < 60 && minutes_[m]; }
  bool has_hour(unsigned h) const noexcept { return h < 24 && hours_[h]; }
  bool has_day_of_month(unsigned d) const noexcept { return d < 32 && days_[d]; }
  bool has_month(unsigned m) const noexcept { return m < 13 && months_[m]; }
  bool has_weekday(unsigned w) const noexcept { return w < 7 && weekdays_[w]; }

  // Whether local date `d` passes the month and day fields (day rule above).
  bool matches_date(date::year_month_day d) const noexcept;

  // The first local minute strictly after `after` that matches all five
  // fields, ignoring time zones; nullopt if none within 400 years.
  std::optional<date::local_seconds> next_local_match(date::local_seconds after) const;

  // Equal when the two select the same minutes, hours, days, months and
  // weekdays under the same star flags, i.e. fire at the same times in
  // every zone ("@daily" == "0 0 * * *"); the text is not compared.
  friend bool operator==(const cron_expression& a, const cron_expression& b) noexcept;

 private:
  cron_expression() = default;

  std::chrono::sys_seconds next_wall_clock(std::chrono::sys_seconds t, const date::time_zone& zone) const;
  std::chrono::sys_seconds next_real_time(std::chrono::sys_seconds t, const date::time_zone& zone) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // bit d = day d of the month; bit 0 unused
  std::bitset<13> months_;  // bit m = month m; bit 0 unused
  std::bitset<7> weekdays_; // bit 0 = Sunday
  bool minute_star_ = false;
  bool hour_star_ = false;
  bool dom_star_ = false;
  bool dow_star_ = false;
};

}  // namespace celeriac::cron
