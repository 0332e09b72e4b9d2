// Ticks due in a window, for beat's catch-up after an outage.

#include <doctest/doctest.h>

#include "cron/due_ticks.hpp"
#include "fire_times.hpp"

using namespace celeriac::cron;
using namespace celeriac::cron::testing;
using std::chrono::seconds;

TEST_CASE("due ticks: window is (after, until]") {
  schedule s{parse_ok("*/5 * * * *")};
  auto d = find_due_ticks(s, utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 20), nullptr);
  CHECK(d.count == 4);
  CHECK_FALSE(d.capped);
  REQUIRE(d.first.has_value());
  REQUIRE(d.last.has_value());
  CHECK(utc_text(*d.first) == "2026-01-01T00:05:00Z");
  CHECK(utc_text(*d.last) == "2026-01-01T00:20:00Z");
}

TEST_CASE("due ticks: nothing due") {
  schedule s{parse_ok("0 * * * *")};
  auto d = find_due_ticks(s, utc(2026, 1, 1, 0, 1), utc(2026, 1, 1, 0, 59, 59), nullptr);
  CHECK(d.count == 0);
  CHECK_FALSE(d.first.has_value());
  CHECK_FALSE(d.last.has_value());
  auto empty = find_due_ticks(s, utc(2026, 1, 1, 2), utc(2026, 1, 1, 1), nullptr);
  CHECK(empty.count == 0);
  auto same = find_due_ticks(s, utc(2026, 1, 1, 1), utc(2026, 1, 1, 1), nullptr);
  CHECK(same.count == 0);
}

TEST_CASE("due ticks: one tick") {
  schedule s{parse_ok("@daily")};
  auto d = find_due_ticks(s, utc(2026, 1, 1, 12), utc(2026, 1, 2, 12), nullptr);
  CHECK(d.count == 1);
  CHECK(d.first == d.last);
  CHECK(utc_text(*d.last) == "2026-01-02T00:00:00Z");
}

TEST_CASE("due ticks: a long outage is counted up to the limit, with exact first and last") {
  schedule s{parse_ok("* * * * *")};
  auto d = find_due_ticks(s, utc(2025, 1, 1), utc(2026, 1, 1), nullptr, 1000);
  CHECK(d.count == 1000);
  CHECK(d.capped);
  CHECK(utc_text(*d.first) == "2025-01-01T00:01:00Z");
  CHECK(utc_text(*d.last) == "2026-01-01T00:00:00Z");

  auto exact = find_due_ticks(s, utc(2025, 1, 1), utc(2025, 1, 1, 2), nullptr, 120);
  CHECK(exact.count == 120);
  CHECK_FALSE(exact.capped);
}

TEST_CASE("due ticks: sparse schedules find the last tick by bisection") {
  schedule s{parse_ok("0 0 29 2 *")};
  auto d = find_due_ticks(s, utc(2020, 3, 1), utc(2033, 1, 1), nullptr);
  CHECK(d.count == 3);
  CHECK(utc_text(*d.first) == "2024-02-29T00:00:00Z");
  CHECK(utc_text(*d.last) == "2032-02-29T00:00:00Z");
}

TEST_CASE("due ticks: intervals are counted exactly, never capped") {
  schedule s{*interval_schedule::parse("10s")};
  auto d = find_due_ticks(s, utc(2025, 1, 1), utc(2026, 1, 1), nullptr, 5);
  CHECK(d.count == 365ULL * 86400 / 10);
  CHECK_FALSE(d.capped);
  CHECK(utc_text(*d.first) == "2025-01-01T00:00:10Z");
  CHECK(utc_text(*d.last) == "2026-01-01T00:00:00Z");

  auto none = find_due_ticks(s, utc(2025, 1, 1, 0, 0, 1), utc(2025, 1, 1, 0, 0, 9), nullptr);
  CHECK(none.count == 0);
}

TEST_CASE("due ticks: DST overlap counts both passes of a wildcard entry") {
  const auto* ny = zone("America/New_York");
  schedule s{parse_ok("*/30 * * * *")};
  // 00:45 EDT to 02:00 EST: 01:00, 01:30 EDT, 01:00, 01:30 EST, 02:00 EST.
  auto d = find_due_ticks(s, utc(2026, 11, 1, 4, 45), utc(2026, 11, 1, 7, 0), ny);
  CHECK(d.count == 5);
  CHECK(zoned_text(*d.last, ny) == "2026-11-01T02:00:00-05:00");
}
