// Celery-style rate strings into limits.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "limiter/rate.hpp"

using namespace celeriac;
using namespace std::chrono_literals;

TEST_CASE("a rate is a number per second, minute or hour") {
  auto per_second = limiter::parse_rate("celeriac:limit:task:add:runs", "10/s");
  REQUIRE(per_second);
  CHECK(per_second->key == "celeriac:limit:task:add:runs");
  CHECK(per_second->amount_per_window == 10);
  CHECK(per_second->window == 1s);

  auto per_minute = limiter::parse_rate("k", "100/m");
  REQUIRE(per_minute);
  CHECK(per_minute->amount_per_window == 100);
  CHECK(per_minute->window == 60s);

  auto per_hour = limiter::parse_rate("k", "1000/h");
  REQUIRE(per_hour);
  CHECK(per_hour->amount_per_window == 1000);
  CHECK(per_hour->window == 3600s);

  auto fraction = limiter::parse_rate("k", "0.5/s");
  REQUIRE(fraction);
  CHECK(fraction->amount_per_window == 0.5);
}

TEST_CASE("a bare number or an empty unit is per second, as Celery reads it") {
  for (const char* text : {"5", "5/", " 5 / s ", "\t5"}) {
    CAPTURE(text);
    auto l = limiter::parse_rate("k", text);
    REQUIRE(l);
    CHECK(l->amount_per_window == 5);
    CHECK(l->window == 1s);
  }
}

TEST_CASE("zero or nothing means no limit") {
  CHECK_FALSE(limiter::parse_rate("k", "0"));
  CHECK_FALSE(limiter::parse_rate("k", "0/m"));
  CHECK_FALSE(limiter::parse_rate("k", "0.0/h"));
  CHECK_FALSE(limiter::parse_rate("k", ""));
  CHECK_FALSE(limiter::parse_rate("k", "   "));
}

TEST_CASE("anything else is refused with a message quoting it") {
  for (const char* text : {"10/d", "10/min", "ten/s", "/s", "10x/s", "-1/s", "inf/s", "nan", "10/s/s", "1e400/s"}) {
    CAPTURE(text);
    CHECK_THROWS_AS(limiter::parse_rate("k", text), std::invalid_argument);
  }
  try {
    limiter::parse_rate("k", "10/d");
    FAIL("10/d was accepted");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    CHECK(what.find("'10/d'") != std::string::npos);
    CHECK(what.find("'d'") != std::string::npos);
  }
}
