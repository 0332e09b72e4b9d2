// The pure parts of the analytics tasks: UTC days and months, and the
// partition plan (what to create and drop from the partitions that exist).
#include <doctest/doctest.h>

#include <stdexcept>

#include "tasks/analytics/calendar.hpp"
#include "tasks/analytics/partition_plan.hpp"

using namespace celeriac::tasks::analytics;

namespace {

utc_month month(const char* text) {
  auto m = utc_month::parse(text);
  REQUIRE(m.has_value());
  return *m;
}

existing_partition monthly(const char* text) {
  const utc_month m = month(text);
  return existing_partition{"public", monthly_partition_name(m), m.start_epoch(), m.plus(1).start_epoch()};
}

std::vector<std::string> names(const std::vector<utc_month>& months) {
  std::vector<std::string> out;
  for (const auto& m : months) out.push_back(monthly_partition_name(m));
  return out;
}

std::vector<std::string> names(const std::vector<existing_partition>& parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.push_back(p.name);
  return out;
}

}  // namespace

TEST_CASE("utc_day parses real YYYY-MM-DD dates only") {
  for (const char* good : {"2026-03-02", "2024-02-29", "0001-01-01", "9999-12-31"}) {
    CAPTURE(good);
    auto d = utc_day::parse(good);
    REQUIRE(d.has_value());
    CHECK(d->iso() == good);
  }
  for (const char* bad : {"", "2026-3-02", "2026-03-2", "2026/03/02", "2026-13-01", "2026-00-10", "2026-02-30",
                          "2025-02-29", "0000-01-01", "2026-03-02 ", " 2026-03-02", "2026-03-02T00", "+026-03-02",
                          "2026-0a-02", "yesterday", "'; DROP TABLE x; --"}) {
    CAPTURE(bad);
    CHECK_FALSE(utc_day::parse(bad).has_value());
  }
}

TEST_CASE("utc_day bounds: first instant in UTC, the next day across months and years") {
  auto d = utc_day::parse("2026-03-02");
  REQUIRE(d);
  CHECK(d->start_literal() == "2026-03-02 00:00:00+00");
  CHECK(utc_day::parse("2026-02-28")->next().iso() == "2026-03-01");
  CHECK(utc_day::parse("2024-02-28")->next().iso() == "2024-02-29");
  CHECK(utc_day::parse("2026-12-31")->next().iso() == "2027-01-01");
  CHECK(*utc_day::parse("2026-03-01") < *d);
}

TEST_CASE("utc_month: parsing, arithmetic, names and epochs") {
  CHECK(month("2026-12").plus(1).suffix() == "2027_01");
  CHECK(month("2026-01").plus(-1).suffix() == "2025_12");
  CHECK(month("2026-03").plus(-13).suffix() == "2025_02");
  CHECK(month("2026-03").plus(0) == month("2026-03"));
  CHECK(month("2026-03").start_literal() == "2026-03-01 00:00:00+00");
  CHECK(month("1970-01").start_epoch() == 0);
  CHECK(month("2026-03").start_epoch() == 1772323200);  // date -u -d 2026-03-01 +%s
  CHECK(month("1969-12").start_epoch() == -31 * 86400);
  CHECK_THROWS_AS(month("9999-12").plus(1), std::out_of_range);
  CHECK_THROWS_AS(month("0001-01").plus(-1), std::out_of_range);
  for (const char* bad : {"2026-13", "2026-00", "2026-1", "2026_03", "0000-01", "2026-03-01"}) {
    CAPTURE(bad);
    CHECK_FALSE(utc_month::parse(bad).has_value());
  }
}

TEST_CASE("monthly partition names") {
  CHECK(monthly_partition_name(month("2026-03")) == "ai_interactions_2026_03");
  CHECK(is_monthly_partition_name("ai_interactions_2026_03"));
  for (const char* other : {"ai_interactions_default", "ai_interactions_2026_13", "ai_interactions_2026-03",
                            "ai_interactions_2026_3", "ai_interactions_2026_03_old", "x_interactions_2026_03",
                            "ai_interactions_archive"}) {
    CAPTURE(other);
    CHECK_FALSE(is_monthly_partition_name(other));
  }
}

TEST_CASE("plan: creates the missing months from this one to months_ahead") {
  const auto plan = plan_partitions(month("2026-12"), 3, 13, {monthly("2026-12"), monthly("2027-02")});
  CHECK(names(plan.create) == std::vector<std::string>{"ai_interactions_2027_01", "ai_interactions_2027_03"});
  CHECK(plan.drop.empty());
  CHECK(names(plan_partitions(month("2026-12"), 0, 13, {}).create) ==
        std::vector<std::string>{"ai_interactions_2026_12"});
}

TEST_CASE("plan: a month covered by any existing range partition is not created") {
  const utc_month jan = month("2027-01");
  // An application's own quarter-long partition, and one open to MAXVALUE.
  const existing_partition quarter{"public", "ai_interactions_q1", jan.start_epoch(), jan.plus(3).start_epoch()};
  CHECK(names(plan_partitions(month("2026-12"), 4, 13, {monthly("2026-12"), quarter}).create) ==
        std::vector<std::string>{"ai_interactions_2027_04"});
  const existing_partition open_end{"public", "ai_interactions_rest", month("2027-02").start_epoch(), std::nullopt};
  CHECK(names(plan_partitions(month("2026-12"), 4, 13, {open_end}).create) ==
        std::vector<std::string>{"ai_interactions_2026_12", "ai_interactions_2027_01"});
  const existing_partition open_start{"public", "ai_interactions_old", std::nullopt, jan.start_epoch()};
  CHECK(names(plan_partitions(month("2026-12"), 1, 13, {open_start}).create) ==
        std::vector<std::string>{"ai_interactions_2027_01"});
}

TEST_CASE("plan: drops monthly partitions that end before this month - retention_months") {
  const std::vector<existing_partition> existing{monthly("2020-01"), monthly("2026-09"), monthly("2026-10"),
                                                 monthly("2026-11"), monthly("2026-12")};
  // retention 1 from 2026-12: 2026-11 is kept, 2026-10 (ends 2026-11-01) goes.
  CHECK(names(plan_partitions(month("2026-12"), 0, 1, existing).drop) ==
        std::vector<std::string>{"ai_interactions_2020_01", "ai_interactions_2026_09", "ai_interactions_2026_10"});
  CHECK(names(plan_partitions(month("2026-12"), 0, 2, existing).drop) ==
        std::vector<std::string>{"ai_interactions_2020_01", "ai_interactions_2026_09"});
  CHECK(names(plan_partitions(month("2026-12"), 0, 13, existing).drop) ==
        std::vector<std::string>{"ai_interactions_2020_01"});
}

TEST_CASE("plan: never drops partitions it did not name, nor ones open to MAXVALUE") {
  const utc_month old = month("2019-01");
  const std::vector<existing_partition> existing{
      {"public", "ai_interactions_archive", old.start_epoch(), old.plus(1).start_epoch()},
      {"public", "ai_interactions_2019_02", std::nullopt, std::nullopt},
      {"public", "ai_interactions_2019_03", old.start_epoch(), std::nullopt}};
  CHECK(plan_partitions(month("2026-12"), 0, 1, existing).drop.empty());
}
