#include <doctest/doctest.h>

#include "util/clock.hpp"

using namespace celeriac::util;
using namespace std::chrono;

TEST_CASE("iso8601 formatting matches Python's isoformat") {
  wall_time t = sys_days(2026y / 11 / 22) + 1h + 49min + 37s + 421657us;
  CHECK(iso8601_utc(t) == "2026-11-22T01:49:37.421657+00:00");
  CHECK(iso8601_naive(t) == "2026-11-22T01:49:37.421657");
  wall_time whole = sys_days(2026y / 1 / 2) + 3h;
  CHECK(iso8601_utc(whole) == "2026-01-02T03:00:00+00:00");
}

TEST_CASE("iso8601 parsing accepts Celery's forms and offsets") {
  wall_time t = sys_days(2026y / 11 / 22) + 1h + 49min + 37s + 421657us;
  CHECK(parse_iso8601("2026-11-22T01:49:37.421657+00:00") == t);
  CHECK(parse_iso8601("2026-11-22T01:49:37.421657") == t);
  CHECK(parse_iso8601("2026-11-22T01:49:37.421657Z") == t);
  CHECK(parse_iso8601("2026-11-21T20:49:37.421657-05:00") == t);
  CHECK(parse_iso8601("2026-11-22 03:49:37.421657+0200") == t);
  CHECK(parse_iso8601("2026-11-22T01:49") == sys_days(2026y / 11 / 22) + 1h + 49min);
  CHECK(parse_iso8601("2026-11-22T01:49:37.5+00:00") == sys_days(2026y / 11 / 22) + 1h + 49min + 37s + 500ms);
}

TEST_CASE("iso8601 parsing rejects garbage") {
  CHECK_FALSE(parse_iso8601(""));
  CHECK_FALSE(parse_iso8601("yesterday"));
  CHECK_FALSE(parse_iso8601("2026-02-30T00:00:00"));
  CHECK_FALSE(parse_iso8601("2026-11-22T25:00:00"));
  CHECK_FALSE(parse_iso8601("2026-11-22T01:49:37+"));
  CHECK_FALSE(parse_iso8601("2026-11-22T01:49:37 trailing"));
}

TEST_CASE("unix seconds round-trip with microsecond precision") {
  wall_time t = sys_days(2026y / 11 / 22) + 123456us;
  CHECK(from_unix_seconds(unix_seconds(t)) == t);
}
