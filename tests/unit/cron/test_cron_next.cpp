// next_after on the calendar (UTC): month ends, leap days, the day-of-month /
// day-of-week rule, and the "strictly after" contract.

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cron/cron_expression.hpp"
#include "fire_times.hpp"

using celeriac::cron::cron_expression;
using namespace celeriac::cron::testing;
using strings = std::vector<std::string>;

TEST_CASE("next fire time is strictly after t") {
  auto e = parse_ok("*/5 * * * *");
  CHECK(utc_text(e.next_after(utc(2026, 1, 1, 0, 0), nullptr)) == "2026-01-01T00:05:00Z");
  CHECK(utc_text(e.next_after(utc(2026, 1, 1, 0, 4, 59), nullptr)) == "2026-01-01T00:05:00Z");
  CHECK(utc_text(e.next_after(utc(2026, 1, 1, 0, 5, 0), nullptr)) == "2026-01-01T00:10:00Z");
  CHECK(utc_text(e.next_after(utc(2026, 1, 1, 0, 5, 1), nullptr)) == "2026-01-01T00:10:00Z");
  CHECK(utc_text(e.next_after(utc(2026, 12, 31, 23, 59, 30), nullptr)) == "2027-01-01T00:00:00Z");
}

TEST_CASE("every minute, hourly, daily, weekly, monthly and yearly") {
  CHECK(next_fires("* * * * *", nullptr, utc(2026, 1, 1, 23, 58), 3) ==
        strings{"2026-01-01T23:59:00Z", "2026-01-02T00:00:00Z", "2026-01-02T00:01:00Z"});
  CHECK(next_fires("@hourly", nullptr, utc(2026, 1, 1, 22, 30), 3) ==
        strings{"2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z", "2026-01-02T01:00:00Z"});
  CHECK(next_fires("@daily", nullptr, utc(2026, 2, 27, 12), 3) ==
        strings{"2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"});
  // 2026-01-01 is a Thursday; Sundays follow on the 4th, 11th, 18th.
  CHECK(next_fires("@weekly", nullptr, utc(2026, 1, 1), 3) ==
        strings{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z"});
  CHECK(next_fires("@monthly", nullptr, utc(2026, 11, 15), 3) ==
        strings{"2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"});
  CHECK(next_fires("@yearly", nullptr, utc(2026, 1, 1), 2) ==
        strings{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"});
}

TEST_CASE("month ends: the 31st skips short months, the 30th skips February") {
  CHECK(next_fires("0 12 31 * *", nullptr, utc(2026, 1, 31, 13), 4) ==
        strings{"2026-03-31T12:00:00Z", "2026-05-31T12:00:00Z", "2026-07-31T12:00:00Z", "2026-08-31T12:00:00Z"});
  CHECK(next_fires("0 0 30 * *", nullptr, utc(2026, 1, 30, 1), 2) ==
        strings{"2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"});
  CHECK(next_fires("59 23 28-31 2 *", nullptr, utc(2026, 1, 1), 3) ==
        strings{"2026-02-28T23:59:00Z", "2027-02-28T23:59:00Z", "2028-02-28T23:59:00Z"});
  CHECK(next_fires("0 0 28-31 2 *", nullptr, utc(2028, 2, 28, 1), 2) ==
        strings{"2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"});
  // From the last minute of a 31-day month into the next month.
  CHECK(next_fires("0 0 1 * *", nullptr, utc(2026, 7, 31, 23, 59, 59), 1) == strings{"2026-08-01T00:00:00Z"});
}

TEST_CASE("Feb 29 fires only in leap years, and not in 2100") {
  CHECK(next_fires("0 0 29 2 *", nullptr, utc(2026, 3, 1), 3) ==
        strings{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"});
  CHECK(next_fires("0 0 29 2 *", nullptr, utc(2028, 2, 29), 1) == strings{"2032-02-29T00:00:00Z"});
  CHECK(next_fires("0 0 29 2 *", nullptr, utc(2097, 1, 1), 2) ==
        strings{"2104-02-29T00:00:00Z", "2108-02-29T00:00:00Z"});
  CHECK(next_fires("0 0 29 2 *", nullptr, utc(2399, 1, 1), 1) == strings{"2400-02-29T00:00:00Z"});
}

TEST_CASE("day-of-month and day-of-week are ORed when both are restricted") {
  // The 13th of any month, and every Friday (2026-03-13 is itself a Friday).
  CHECK(next_fires("0 0 13 * fri", nullptr, utc(2026, 3, 1), 5) ==
        strings{"2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z", "2026-03-27T00:00:00Z",
                "2026-04-03T00:00:00Z"});
  CHECK(next_fires("0 0 15 * mon", nullptr, utc(2026, 4, 10), 3) ==
        strings{"2026-04-13T00:00:00Z", "2026-04-15T00:00:00Z", "2026-04-20T00:00:00Z"});
  // 1-31 restricted: every day, whatever the weekday field says.
  CHECK(next_fires("0 0 1-31 * mon", nullptr, utc(2026, 4, 10), 3) ==
        strings{"2026-04-11T00:00:00Z", "2026-04-12T00:00:00Z", "2026-04-13T00:00:00Z"});
  // Feb 29 OR Monday, in February only.
  CHECK(next_fires("0 0 29 2 mon", nullptr, utc(2027, 2, 20), 3) ==
        strings{"2027-02-22T00:00:00Z", "2028-02-07T00:00:00Z", "2028-02-14T00:00:00Z"});
}

TEST_CASE("day-of-month and day-of-week are ANDed when either starts with '*'") {
  CHECK(next_fires("0 0 * * mon", nullptr, utc(2026, 4, 10), 2) ==
        strings{"2026-04-13T00:00:00Z", "2026-04-20T00:00:00Z"});
  // Odd days that are also Mondays.
  CHECK(next_fires("0 0 */2 * mon", nullptr, utc(2026, 4, 1), 3) ==
        strings{"2026-04-13T00:00:00Z", "2026-04-27T00:00:00Z", "2026-05-11T00:00:00Z"});
  // The 1st when it is a Sunday (day-of-week "*/7" = Sunday, star-prefixed).
  CHECK(next_fires("0 0 1 * */7", nullptr, utc(2026, 1, 1), 2) ==
        strings{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"});
}

TEST_CASE("weekday ranges wrap to Sunday through 7") {
  // 2026-04-10 is a Friday.
  CHECK(next_fires("0 9 * * 5-7", nullptr, utc(2026, 4, 10, 10), 3) ==
        strings{"2026-04-11T09:00:00Z", "2026-04-12T09:00:00Z", "2026-04-17T09:00:00Z"});
}

TEST_CASE("lists of hours and minutes") {
  CHECK(next_fires("0,30 9-10 * * *", nullptr, utc(2026, 5, 1, 8), 5) ==
        strings{"2026-05-01T09:00:00Z", "2026-05-01T09:30:00Z", "2026-05-01T10:00:00Z", "2026-05-01T10:30:00Z",
                "2026-05-02T09:00:00Z"});
  CHECK(next_fires("5 4 * jan,jul *", nullptr, utc(2026, 1, 31, 5), 2) ==
        strings{"2026-07-01T04:05:00Z", "2026-07-02T04:05:00Z"});
}

TEST_CASE("a long gap is found without scanning every minute") {
  // Feb 29 falling on a Sunday (day-of-month star-prefixed, so ANDed):
  // "*/28" is {1, 29}; Feb 1 Sundays come first.
  auto e = parse_ok("0 0 */28 2 0");
  CHECK(utc_text(e.next_after(utc(2026, 3, 1), nullptr)) == "2032-02-01T00:00:00Z");
}

TEST_CASE("next_local_match ignores zones") {
  auto e = parse_ok("30 2 * * *");
  auto l = e.next_local_match(date::local_seconds{date::local_days{date::year{2026} / 3 / 8}});
  REQUIRE(l.has_value());
  CHECK(date::format("%F %T", *l) == "2026-03-08 02:30:00");
}

TEST_CASE("inputs outside years 1-9999 have no next fire") {
  auto e = parse_ok("* * * * *");
  CHECK(e.next_after(std::chrono::sys_seconds::max(), nullptr) == std::chrono::sys_seconds::max());
  CHECK(e.next_after(std::chrono::sys_seconds::min(), nullptr) == std::chrono::sys_seconds::max());
}

namespace {

// A plain reference for UTC: walk the days, and every minute of the days
// whose date matches, with cron's day rule written out independently.
std::optional<std::chrono::sys_seconds> scan_next(const cron_expression& e, std::chrono::sys_seconds t,
                                                  date::days horizon) {
  const auto first = date::floor<std::chrono::minutes>(t) + std::chrono::minutes{1};
  const auto first_day = date::floor<date::days>(first);
  for (auto day = first_day; day < first_day + horizon; day += date::days{1}) {
    const date::year_month_day ymd{day};
    const bool dom = e.has_day_of_month(static_cast<unsigned>(ymd.day()));
    const bool dow = e.has_weekday(date::weekday{day}.c_encoding());
    const bool day_ok = e.day_fields_ored() ? (dom || dow) : (dom && dow);
    if (!day_ok || !e.has_month(static_cast<unsigned>(ymd.month()))) continue;
    for (int m = 0; m < 24 * 60; ++m) {
      const auto at = std::chrono::sys_seconds{day} + std::chrono::minutes{m};
      if (at < first) continue;
      if (e.has_hour(static_cast<unsigned>(m / 60)) && e.has_minute(static_cast<unsigned>(m % 60))) return at;
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("next_after agrees with a plain day-by-day, minute-by-minute scan") {
  random_expressions gen;
  int checked = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string text = gen.expression();
    auto e = cron_expression::parse(text);
    if (!e) continue;  // e.g. day 31 in February only
    CAPTURE(text);
    auto t = utc(2026, 1, 1) + std::chrono::seconds{gen.below(366 * 86400)};
    for (int k = 0; k < 3; ++k) {
      const auto horizon = date::days{366 * 2};
      const auto expected = scan_next(*e, t, horizon);
      const auto got = e->next_after(t, nullptr);
      if (expected) {
        CHECK(utc_text(got) == utc_text(*expected));
      } else {
        CHECK(got >= t + horizon);
        break;
      }
      t = got;
    }
    ++checked;
  }
  CHECK(checked > 300);
}
