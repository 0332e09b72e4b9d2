// `every` schedules: the accepted forms, the refused ones, and ticks
// aligned to the Unix epoch.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cron/interval_schedule.hpp"
#include "fire_times.hpp"

using namespace celeriac::cron;
using namespace celeriac::cron::testing;
using std::chrono::seconds;
using strings = std::vector<std::string>;

namespace {

seconds period_of(std::string_view text) {
  auto r = interval_schedule::parse(text);
  REQUIRE_MESSAGE(r.has_value(), text, ": ", (r.has_value() ? std::string{} : r.error().message));
  return r->period();
}

std::string error_of(std::string_view text) {
  auto r = interval_schedule::parse(text);
  REQUIRE_MESSAGE(!r.has_value(), "expected \"", text, "\" to be rejected");
  return r.error().message;
}

}  // namespace

TEST_CASE("every: single units and combinations") {
  CHECK(period_of("30s") == seconds{30});
  CHECK(period_of("5m") == seconds{300});
  CHECK(period_of("1h") == seconds{3600});
  CHECK(period_of("1d") == seconds{86400});
  CHECK(period_of("1h30m") == seconds{5400});
  CHECK(period_of("1d12h") == seconds{86400 + 43200});
  CHECK(period_of("2h0m5s") == seconds{7205});
  CHECK(period_of("90m") == seconds{5400});
  CHECK(period_of("1s") == seconds{1});
  CHECK(period_of("366d") == seconds{366 * 86400});
  CHECK(interval_schedule::parse("1h30m")->text() == "1h30m");
}

TEST_CASE("every: malformed periods are refused with the expected forms") {
  CHECK(error_of("") == "every \"\": empty period; expected <number><unit> parts with units d, h, m, s in that "
                        "order, e.g. \"30s\", \"5m\", \"1h30m\"");
  CHECK(error_of("30").find("every \"30\": 30 has no unit") == 0);
  CHECK(error_of("5x").find("every \"5x\": unknown unit \"x\"") == 0);
  CHECK(error_of("m5").find("every \"m5\": expected a number at \"m5\"") == 0);
  CHECK(error_of("30m1h").find("every \"30m1h\": unit 'h' is repeated or out of order") == 0);
  CHECK(error_of("1m1m").find("unit 'm' is repeated or out of order") != std::string::npos);
  CHECK(error_of("1h 30m").find("expected a number at \" 30m\"") != std::string::npos);
  CHECK(error_of("0s") == "every \"0s\": the period must be at least 1 second");
  CHECK(error_of("0h0m") == "every \"0h0m\": the period must be at least 1 second");
  CHECK(error_of("367d").find("longer than 366 days") != std::string::npos);
  CHECK(error_of("9999999s") == "every \"9999999s\": 9999999 is too large");
  CHECK(error_of("-5s").find("expected a number") != std::string::npos);
  CHECK(error_of("1.5h").find("unknown unit \".\"") != std::string::npos);
}

TEST_CASE("every: ticks are multiples of the period since the epoch") {
  schedule every30{*interval_schedule::parse("30s")};
  CHECK(next_fires(every30, nullptr, utc(2026, 1, 1, 0, 0, 12), 3) ==
        strings{"2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:30Z"});
  CHECK(next_fires(every30, nullptr, utc(2026, 1, 1, 0, 0, 30), 1) == strings{"2026-01-01T00:01:00Z"});

  schedule every7{*interval_schedule::parse("7s")};
  const auto t = every7.next_after(utc(2026, 1, 1), nullptr);
  CHECK(t.time_since_epoch().count() % 7 == 0);
  CHECK(t > utc(2026, 1, 1));
  CHECK(t <= utc(2026, 1, 1) + seconds{7});

  // 1h30m ticks: 00:00Z on 1970-01-01 and every 90 minutes after.
  schedule ninety{*interval_schedule::parse("1h30m")};
  CHECK(next_fires(ninety, nullptr, utc(1970, 1, 1), 2) == strings{"1970-01-01T01:30:00Z", "1970-01-01T03:00:00Z"});

  // Before the epoch too.
  schedule hourly{*interval_schedule::parse("1h")};
  CHECK(next_fires(hourly, nullptr, utc(1969, 12, 31, 22, 10), 2) ==
        strings{"1969-12-31T23:00:00Z", "1970-01-01T00:00:00Z"});
}

TEST_CASE("every: time zones and DST do not move interval ticks") {
  schedule daily{*interval_schedule::parse("1d")};
  const auto* ny = zone("America/New_York");
  CHECK(next_fires(daily, ny, utc(2026, 3, 7, 12), 2) ==
        strings{"2026-03-07T19:00:00-05:00", "2026-03-08T20:00:00-04:00"});
}

TEST_CASE("every: from_period and last_at_or_before") {
  auto r = interval_schedule::from_period(seconds{5400});
  REQUIRE(r.has_value());
  CHECK(r->text() == "1h30m");
  CHECK(*r == *interval_schedule::parse("90m"));
  CHECK_FALSE(interval_schedule::from_period(seconds{0}).has_value());
  CHECK(utc_text(r->last_at_or_before(utc(1970, 1, 1, 3))) == "1970-01-01T03:00:00Z");
  CHECK(utc_text(r->last_at_or_before(utc(1970, 1, 1, 2, 59, 59))) == "1970-01-01T01:30:00Z");
  CHECK(r->next_after(std::chrono::sys_seconds::max()) == std::chrono::sys_seconds::max());
}
