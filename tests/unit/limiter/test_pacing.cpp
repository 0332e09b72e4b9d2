// The pure half of per-task admission: a limit as GCRA pacing, the admit
// script's KEYS/ARGV, its replies.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "limiter/pacing.hpp"
#include "unit/limiter/reply_values.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
using test::integers;

namespace {

const limiter::limit per_second{"celeriac:limit:task:tasks.add", 100, 1s};

}  // namespace

TEST_CASE("burst 1 spaces runs window / N apart and lets none start early") {
  auto p = limiter::pacing_for(per_second);
  CHECK(p.interval.count() == doctest::Approx(10'000));
  CHECK(p.tolerance.count() == 0);
  auto per_minute = limiter::pacing_for(limiter::limit{"k", 1000, 60s});
  CHECK(per_minute.interval.count() == doctest::Approx(60'000));
  auto fraction = limiter::pacing_for(limiter::limit{"k", 0.5, 1s});
  CHECK(fraction.interval.count() == doctest::Approx(2'000'000));
}

TEST_CASE("a burst is paid for by a longer interval, so N per window still holds") {
  // burst b: (b - 1) runs early plus one per interval over the window.
  auto p = limiter::pacing_for(per_second, 10);
  CHECK(p.interval.count() == doctest::Approx(1'000'000.0 / 91));
  CHECK(p.tolerance.count() == doctest::Approx(9 * 1'000'000.0 / 91));
  // The most that fit in a window T: slots k = 0.. with k * interval - tolerance < T.
  const double most = (1'000'000 + p.tolerance.count()) / p.interval.count();
  CHECK(most == doctest::Approx(100));
  auto whole = limiter::pacing_for(per_second, 100);
  CHECK(whole.interval.count() == doctest::Approx(1'000'000));
  CHECK(whole.tolerance.count() == doctest::Approx(99'000'000));
}

TEST_CASE("impossible bursts and malformed limits are refused before Redis is asked") {
  CHECK_THROWS_AS(limiter::pacing_for(per_second, 0), std::invalid_argument);
  CHECK_THROWS_AS(limiter::pacing_for(per_second, 101), std::invalid_argument);
  CHECK_THROWS_AS(limiter::pacing_for(limiter::limit{"k", 0.5, 1s}, 2), std::invalid_argument);
  CHECK_THROWS_AS(limiter::pacing_for(limiter::limit{"k", 0, 1s}), std::invalid_argument);
  CHECK_THROWS_AS(limiter::pacing_for(limiter::limit{"", 1, 1s}), std::invalid_argument);
  try {
    limiter::pacing_for(per_second, 101);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("celeriac:limit:task:tasks.add") != std::string::npos);
  }
}

TEST_CASE("the admit script gets the limit's key, the pacing in µs and the runs") {
  auto call = limiter::admit_call(per_second, limiter::pacing_for(per_second), 7);
  CHECK(call.keys == std::vector<std::string>{"celeriac:limit:task:tasks.add"});
  REQUIRE(call.args.size() == 3);
  CHECK(std::stod(call.args[0]) == 10'000);
  CHECK(std::stod(call.args[1]) == 0);
  CHECK(call.args[2] == "7");
  // The exact double goes over the wire, not a rounded one.
  auto third = limiter::pacing_for(limiter::limit{"k", 3, 1s});
  CHECK(std::stod(limiter::admit_call(per_second, third, 1).args[0]) == third.interval.count());
  CHECK_THROWS_AS(limiter::admit_call(per_second, third, 0), std::invalid_argument);
}

TEST_CASE("admit replies: admitted runs, the wait for the next, Redis time") {
  auto r = limiter::read_admit_reply(integers({2, 1500, 1'700'000'000'000'000}), per_second, 5);
  CHECK(r.admitted == 2);
  CHECK(r.wait == 1500us);
  CHECK(r.decided_at == std::chrono::microseconds(1'700'000'000'000'000));
  auto all = limiter::read_admit_reply(integers({1, 0, 5}), per_second, 1);
  CHECK(all.admitted == 1);
  CHECK(all.wait == 0us);
}

TEST_CASE("admit replies of another shape throw, naming the limit") {
  auto bad = [](const resp::value& v, std::size_t runs = 3) {
    CHECK_THROWS_AS(limiter::read_admit_reply(v, per_second, runs), std::runtime_error);
  };
  bad(resp::value::make_error("ERR boom"));
  bad(integers({1, 0}));
  bad(integers({4, 0, 5}));   // more than asked
  bad(integers({-1, 10, 5}));
  bad(integers({0, 0, 5}));   // refused, but no wait
  bad(integers({1, -3, 5}));
  bad(integers({1, 0, 0}));
  bad(resp::value::make_bulk("1"));
  try {
    limiter::read_admit_reply(resp::value::make_error("ERR boom"), per_second, 1);
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("tasks.add") != std::string::npos);
    CHECK(std::string(e.what()).find("ERR boom") != std::string::npos);
  }
}
