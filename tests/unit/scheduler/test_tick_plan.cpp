// plan_ticks: the steady state, a takeover (every tick sent), an outage
// (the missed policy), and the edges between them.

#include <doctest/doctest.h>

#include <string>

#include "scheduler/schedule_file.hpp"
#include "scheduler/tick_plan.hpp"

using namespace celeriac::scheduler;
using std::chrono::seconds;
using std::chrono::sys_seconds;

namespace {

schedule_entry entry(std::string_view when, std::string_view missed = "run_once") {
  const std::string text = "[[entry]]\nname = \"e\"\ntask = \"t\"\n" + std::string(when) + "\nmissed = \"" +
                           std::string(missed) + "\"\n";
  auto r = parse_schedule(text, "s.toml");
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().to_string()));
  return std::move((*r)[0]);
}

// 2026-11-22T04:00:00Z and offsets from it.
constexpr sys_seconds t0{seconds{1795320000}};
sys_seconds at(long s) { return t0 + seconds{s}; }

using ticks = std::vector<sys_seconds>;
constexpr seconds window{20};

}  // namespace

TEST_CASE("steady state: exactly the tick that just fell due") {
  auto e = entry("every = \"1s\"");
  auto p = plan_ticks(e, at(9), at(10), window);
  CHECK(p.send == ticks{at(10)});
  CHECK_FALSE(p.record);
  CHECK(p.missed == 0);
  CHECK(p.not_sent == 0);
}

TEST_CASE("nothing due: now at or before the last tick, or between ticks") {
  auto e = entry("every = \"5s\"");
  CHECK(plan_ticks(e, at(10), at(10), window).empty());
  CHECK(plan_ticks(e, at(10), at(14), window).empty());
  CHECK(plan_ticks(e, at(30), at(10), window).empty());  // another instance's clock ran ahead
}

TEST_CASE("takeover: every tick younger than the window is sent, oldest first, whatever the policy") {
  for (auto policy : {"run_once", "skip"}) {
    CAPTURE(policy);
    auto e = entry("every = \"1s\"", policy);
    auto p = plan_ticks(e, at(0), at(13), window);  // old leader's last tick 13 s ago
    REQUIRE(p.send.size() == 13);
    CHECK(p.send.front() == at(1));
    CHECK(p.send.back() == at(13));
    CHECK(p.missed == 0);
    CHECK_FALSE(p.record);
  }
}

TEST_CASE("outage, run_once, no recent tick: one catch-up run for the latest missed tick") {
  auto e = entry("cron = \"0 * * * *\"");
  // last fired 01:00, beat down until 04:00:30: ticks 02:00, 03:00, 04:00 missed
  auto p = plan_ticks(e, at(-3 * 3600), at(30), window);
  CHECK(p.send == ticks{at(0)});
  CHECK(p.missed == 3);
  CHECK(p.missed_first == at(-2 * 3600));
  CHECK(p.missed_last == at(0));
  CHECK(p.not_sent == 2);
  CHECK_FALSE(p.record);
}

TEST_CASE("outage, run_once, with recent ticks: missed ticks collapse into the first recent run") {
  auto e = entry("every = \"10s\"");
  auto p = plan_ticks(e, at(-100), at(15), window);  // window starts at -5: ticks 0 and 10 are recent
  CHECK(p.send == ticks{at(0), at(10)});
  CHECK(p.missed == 9);  // -90 .. -10
  CHECK(p.not_sent == 9);
  CHECK_FALSE(p.record);
}

TEST_CASE("outage, skip: nothing sent for missed ticks; the latest is recorded when nothing else moves past it") {
  auto e = entry("cron = \"0 * * * *\"", "skip");
  auto p = plan_ticks(e, at(-3 * 3600), at(30), window);
  CHECK(p.send.empty());
  CHECK(p.record == at(0));
  CHECK(p.missed == 3);
  CHECK(p.not_sent == 3);

  auto s = entry("every = \"10s\"", "skip");
  auto q = plan_ticks(s, at(-100), at(15), window);
  CHECK(q.send == ticks{at(0), at(10)});
  CHECK_FALSE(q.record);
  CHECK(q.not_sent == 9);
}

TEST_CASE("the window boundary: a tick exactly window old is missed, one second younger is recent") {
  auto e = entry("every = \"1s\"", "skip");
  auto p = plan_ticks(e, at(-1), at(20), window);  // ticks 0..20; 0 is exactly 20 s old
  CHECK(p.missed == 1);
  CHECK(p.missed_last == at(0));
  REQUIRE(p.send.size() == 20);
  CHECK(p.send.front() == at(1));
}

TEST_CASE("a huge window on a fast schedule: at most max_recent_sends sent, the older ones count as missed") {
  auto e = entry("every = \"1s\"");
  auto p = plan_ticks(e, at(0), at(1500), seconds{3600});
  CHECK(p.send.size() == max_recent_sends);
  CHECK(p.send.front() == at(501));
  CHECK(p.send.back() == at(1500));
  CHECK(p.missed == 500);
  CHECK(p.missed_first == at(1));
  CHECK(p.missed_last == at(500));
  CHECK(p.not_sent == 500);
}

TEST_CASE("a DST gap: the cron tick skipped by the jump is planned once, right after it") {
  // 2026-03-08 in New York: 02:00 EST jumps to 03:00 EDT (07:00Z). "30 2 * * *" fires at 03:00 EDT.
  auto e = entry("cron = \"30 2 * * *\"\ntimezone = \"America/New_York\"");
  const sys_seconds jump = date::sys_days{date::year{2026} / 3 / 8} + std::chrono::hours{7};
  auto p = plan_ticks(e, jump - std::chrono::hours{1}, jump + seconds{2}, window);
  CHECK(p.send == ticks{jump});
}
