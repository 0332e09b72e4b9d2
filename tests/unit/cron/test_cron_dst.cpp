// DST as Debian's cron(8) handles it, in America/New_York and Europe/London:
// fixed minute and hour follow the wall clock (a skipped time fires once
// right after the jump, a repeated time fires once); a '*' in minute or hour
// follows real time (both passes of a repeated hour, nothing in a gap).
//
// 2026 transitions:
//   America/New_York  03-08 02:00 EST -> 03:00 EDT (07:00Z)
//                     11-01 02:00 EDT -> 01:00 EST (06:00Z)
//   Europe/London     03-29 01:00 GMT -> 02:00 BST (01:00Z)
//                     10-25 02:00 BST -> 01:00 GMT (01:00Z)

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cron/due_ticks.hpp"
#include "fire_times.hpp"

using namespace celeriac::cron;
using namespace celeriac::cron::testing;
using strings = std::vector<std::string>;
using std::chrono::seconds;
using std::chrono::sys_seconds;

TEST_CASE("New York spring-forward: a fixed time in the gap fires once, right after the jump") {
  const auto* ny = zone("America/New_York");
  CHECK(next_fires("30 2 * * *", ny, local(ny, 2026, 3, 6, 12), 3) ==
        strings{"2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"});
  CHECK(next_fires("0 2 * * *", ny, local(ny, 2026, 3, 7, 12), 2) ==
        strings{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"});
  // Several gap times collapse into the one fire at the jump.
  CHECK(next_fires("0,15,30,45 2 * * *", ny, local(ny, 2026, 3, 8, 1, 50), 3) ==
        strings{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00", "2026-03-09T02:15:00-04:00"});
  // 03:00 itself exists: one fire, not two.
  CHECK(next_fires("30 2,3 * * *", ny, local(ny, 2026, 3, 8, 1), 3) ==
        strings{"2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"});
  CHECK(next_fires("0 3 * * *", ny, local(ny, 2026, 3, 8, 1), 2) ==
        strings{"2026-03-08T03:00:00-04:00", "2026-03-09T03:00:00-04:00"});
  // Times outside the gap are untouched.
  CHECK(next_fires("59 1 * * *", ny, local(ny, 2026, 3, 8, 0), 2) ==
        strings{"2026-03-08T01:59:00-05:00", "2026-03-09T01:59:00-04:00"});
  // Asked from inside the jump's second, and just after it.
  auto e = parse_ok("30 2 * * *");
  CHECK(utc_text(e.next_after(utc(2026, 3, 8, 6, 59, 59), ny)) == "2026-03-08T07:00:00Z");
  CHECK(utc_text(e.next_after(utc(2026, 3, 8, 7, 0, 0), ny)) == "2026-03-09T06:30:00Z");
}

TEST_CASE("New York spring-forward: wildcard entries follow real time and skip the gap") {
  const auto* ny = zone("America/New_York");
  CHECK(next_fires("*/30 * * * *", ny, local(ny, 2026, 3, 8, 1), 3) ==
        strings{"2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"});
  CHECK(next_fires("30 * * * *", ny, local(ny, 2026, 3, 8, 0, 45), 3) ==
        strings{"2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-08T04:30:00-04:00"});
  // A '*' minute with a fixed hour is still a wildcard entry: nothing on the 8th.
  CHECK(next_fires("* 2 * * *", ny, local(ny, 2026, 3, 8, 1, 59), 1) == strings{"2026-03-09T02:00:00-04:00"});
  CHECK(next_fires("15 */2 * * *", ny, local(ny, 2026, 3, 8, 0, 30), 2) ==
        strings{"2026-03-08T04:15:00-04:00", "2026-03-08T06:15:00-04:00"});
}

TEST_CASE("New York fall-back: a fixed time in the repeated hour fires once, at its first occurrence") {
  const auto* ny = zone("America/New_York");
  CHECK(next_fires("30 1 * * *", ny, local(ny, 2026, 10, 31, 12), 2) ==
        strings{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"});
  CHECK(next_fires("0 1 * * *", ny, local(ny, 2026, 10, 31, 12), 2) ==
        strings{"2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"});
  CHECK(next_fires("0 2 * * *", ny, local(ny, 2026, 10, 31, 12), 2) ==
        strings{"2026-11-01T02:00:00-05:00", "2026-11-02T02:00:00-05:00"});
  // Asked during the second pass (01:10 EST = 06:10Z): 01:30 already fired.
  auto e = parse_ok("30 1 * * *");
  CHECK(zoned_text(e.next_after(utc(2026, 11, 1, 6, 10), ny), ny) == "2026-11-02T01:30:00-05:00");
  CHECK(zoned_text(e.next_after(utc(2026, 11, 1, 5, 30), ny), ny) == "2026-11-02T01:30:00-05:00");
  CHECK(zoned_text(e.next_after(utc(2026, 11, 1, 5, 29, 59), ny), ny) == "2026-11-01T01:30:00-04:00");
}

TEST_CASE("New York fall-back: wildcard entries fire in both passes of the repeated hour") {
  const auto* ny = zone("America/New_York");
  CHECK(next_fires("*/30 * * * *", ny, local(ny, 2026, 11, 1, 0, 45), 5) ==
        strings{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00",
                "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"});
  CHECK(next_fires("15 * * * *", ny, local(ny, 2026, 11, 1, 0, 30), 3) ==
        strings{"2026-11-01T01:15:00-04:00", "2026-11-01T01:15:00-05:00", "2026-11-01T02:15:00-05:00"});
  CHECK(next_fires("* 1 * * *", ny, utc(2026, 11, 1, 5, 58), 3) ==
        strings{"2026-11-01T01:59:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:01:00-05:00"});
}

TEST_CASE("London spring-forward at 01:00 GMT") {
  const auto* london = zone("Europe/London");
  CHECK(next_fires("30 1 * * *", london, local(london, 2026, 3, 28, 12), 3) ==
        strings{"2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00", "2026-03-31T01:30:00+01:00"});
  CHECK(next_fires("0 2 * * *", london, local(london, 2026, 3, 28, 12), 2) ==
        strings{"2026-03-29T02:00:00+01:00", "2026-03-30T02:00:00+01:00"});
  CHECK(next_fires("*/20 * * * *", london, local(london, 2026, 3, 29, 0, 30), 3) ==
        strings{"2026-03-29T00:40:00+00:00", "2026-03-29T02:00:00+01:00", "2026-03-29T02:20:00+01:00"});
  CHECK(next_fires("30 * * * *", london, local(london, 2026, 3, 29, 0, 0), 2) ==
        strings{"2026-03-29T00:30:00+00:00", "2026-03-29T02:30:00+01:00"});
}

TEST_CASE("London fall-back at 02:00 BST") {
  const auto* london = zone("Europe/London");
  CHECK(next_fires("30 1 * * *", london, local(london, 2026, 10, 24, 12), 2) ==
        strings{"2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"});
  CHECK(next_fires("0 * * * *", london, local(london, 2026, 10, 25, 0, 30), 3) ==
        strings{"2026-10-25T01:00:00+01:00", "2026-10-25T01:00:00+00:00", "2026-10-25T02:00:00+00:00"});
  CHECK(next_fires("@hourly", london, local(london, 2026, 10, 25, 0, 30), 3) ==
        next_fires("0 * * * *", london, local(london, 2026, 10, 25, 0, 30), 3));
  CHECK(next_fires("@daily", london, local(london, 2026, 10, 24, 12), 2) ==
        strings{"2026-10-25T00:00:00+01:00", "2026-10-26T00:00:00+00:00"});
}

TEST_CASE("a fixed daily time fires exactly once on every local day of 2026") {
  for (const char* name : {"America/New_York", "Europe/London"}) {
    const auto* z = zone(name);
    for (const char* expr : {"30 1 * * *", "30 2 * * *", "0 0 * * *"}) {
      CAPTURE(name);
      CAPTURE(expr);
      auto ticks = find_due_ticks(schedule{parse_ok(expr)}, utc(2025, 12, 31, 12), utc(2026, 12, 31, 12), z);
      CHECK(ticks.count == 365);
      CHECK_FALSE(ticks.capped);
    }
  }
}

TEST_CASE("an hourly wildcard loses an hour in spring and gains one in autumn") {
  for (const char* name : {"America/New_York", "Europe/London"}) {
    CAPTURE(name);
    const auto* z = zone(name);
    auto ticks = find_due_ticks(schedule{parse_ok("30 * * * *")}, utc(2026, 1, 1), utc(2027, 1, 1), z);
    CHECK(ticks.count == 365 * 24);  // -1 in the gap, +1 in the overlap
    auto spring = find_due_ticks(schedule{parse_ok("30 * * * *")}, local(z, 2026, 1, 1), local(z, 2026, 7, 1), z);
    CHECK(spring.count == 181 * 24 - 1);
  }
}

TEST_CASE("fire times form a fixed set across DST changes") {
  // For every t, next_after(t) > t, and nothing fires between t and it:
  // next_after(n - 1s) == n. Checked each 7 seconds around each transition.
  const char* exprs[] = {"30 2 * * *", "30 1 * * *", "0,15,30,45 2 * * *", "*/15 * * * *", "45 * * * *",
                         "* 1 * * *",  "@daily",     "0 1-3 * * *"};
  struct window {
    const char* zone;
    sys_seconds from;
  };
  const window windows[] = {{"America/New_York", utc(2026, 3, 8, 5)},
                            {"America/New_York", utc(2026, 11, 1, 4)},
                            {"Europe/London", utc(2026, 3, 28, 23)},
                            {"Europe/London", utc(2026, 10, 24, 23)}};
  for (const auto& w : windows) {
    const auto* z = zone(w.zone);
    for (const char* text : exprs) {
      auto e = parse_ok(text);
      bool ok = true;
      for (auto t = w.from; t < w.from + std::chrono::hours{4} && ok; t += seconds{7}) {
        const auto n = e.next_after(t, z);
        ok = n > t && e.next_after(n - seconds{1}, z) == n;
        if (!ok) {
          FAIL_CHECK(std::string(w.zone), " ", std::string(text), " at ", utc_text(t), " -> ", utc_text(n));
        }
      }
    }
  }
}

TEST_CASE("zones without DST and fixed offsets") {
  const auto* tokyo = zone("Asia/Tokyo");
  CHECK(next_fires("0 9 * * mon-fri", tokyo, utc(2026, 4, 10, 0, 30), 2) ==
        strings{"2026-04-13T09:00:00+09:00", "2026-04-14T09:00:00+09:00"});
  const auto* utc_zone = zone("UTC");
  CHECK(next_fires("*/5 * * * *", utc_zone, utc(2026, 1, 1), 2) ==
        strings{"2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"});
  // Kolkata is UTC+05:30: local midnight is 18:30Z the day before.
  const auto* kolkata = zone("Asia/Kolkata");
  CHECK(utc_text(parse_ok("@daily").next_after(utc(2026, 1, 1), kolkata)) == "2026-01-01T18:30:00Z");
}

namespace {

bool matches_local(const cron_expression& e, date::local_seconds l) {
  const auto day = date::floor<date::days>(l);
  const date::hh_mm_ss<seconds> tod{l - day};
  return e.matches_date(date::year_month_day{day}) && e.has_hour(static_cast<unsigned>(tod.hours().count())) &&
         e.has_minute(static_cast<unsigned>(tod.minutes().count())) && tod.seconds().count() == 0;
}

// cron(8)'s own model, one wake-up per real minute: a wildcard entry fires
// when the local time at that minute matches; a fixed-time entry fires when
// a matching local minute lies between the furthest local time reached
// before and the local time now (virtual time catching up, never going back).
// `clock` holds the zone's local time at from, from + 1 min, ..., to.
std::vector<sys_seconds> reference_fires(const cron_expression& e, const std::vector<date::local_seconds>& clock,
                                         sys_seconds from) {
  std::vector<sys_seconds> out;
  auto furthest = clock.front();
  for (std::size_t i = 1; i < clock.size(); ++i) {
    const auto now = clock[i];
    bool fire = false;
    if (e.follows_real_time()) {
      fire = matches_local(e, now);
    } else {
      for (auto l = furthest + std::chrono::minutes{1}; l <= now && !fire; l += std::chrono::minutes{1})
        fire = matches_local(e, l);
    }
    if (now > furthest) furthest = now;
    if (fire) out.push_back(from + std::chrono::minutes{i});
  }
  return out;
}

}  // namespace

TEST_CASE("next_after matches cron(8)'s minute-by-minute model around each 2026 transition") {
  struct window {
    const char* zone;
    sys_seconds transition;
  };
  const window windows[] = {{"America/New_York", utc(2026, 3, 8, 7)},
                            {"America/New_York", utc(2026, 11, 1, 6)},
                            {"Europe/London", utc(2026, 3, 29, 1)},
                            {"Europe/London", utc(2026, 10, 25, 1)}};
  std::vector<std::string> texts = {"30 2 * * *", "30 1 * * *",   "0,15,30,45 2 * * *", "*/15 * * * *",
                                    "45 * * * *", "* 1 * * *",    "0 1-3 * * *",        "0-59/7 0-4 * * *",
                                    "@daily",     "@hourly",      "59 0 * * *",         "0 2 * * *"};
  random_expressions gen;
  for (int i = 0; i < 80; ++i) {
    // Mostly the small hours, where the transitions are.
    texts.push_back(gen.item(0, 59) + " " + gen.item(0, 4) + " * * *");
  }
  for (const auto& w : windows) {
    const auto* z = zone(w.zone);
    const auto from = w.transition - std::chrono::hours{26};
    const auto to = w.transition + std::chrono::hours{26};
    std::vector<date::local_seconds> clock;
    for (auto u = from; u <= to; u += std::chrono::minutes{1}) clock.push_back(z->to_local(u));
    for (const auto& text : texts) {
      CAPTURE(w.zone);
      CAPTURE(text);
      auto e = parse_ok(text);
      auto t = from;
      for (auto expected : reference_fires(e, clock, from)) {
        const auto got = e.next_after(t, z);
        if (got != expected) {
          FAIL("after ", zoned_text(t, z), ": got ", zoned_text(got, z), ", cron(8) fires at ",
               zoned_text(expected, z));
        }
        t = got;
      }
      CHECK(e.next_after(t, z) > to);
    }
  }
}
