// --autoscale MAX,MIN: grow at once, shrink after the keepalive, one step.

#include <doctest/doctest.h>

#include "worker/autoscale.hpp"

using namespace celeriac::worker;
using namespace std::chrono_literals;

TEST_CASE("autoscale grows to the demand at once, capped at MAX") {
  autoscale_state st;
  autoscale_input in{.current = 1, .busy = 1, .backlog = 3, .min = 1, .max = 8, .now = {}};
  in.now = std::chrono::steady_clock::time_point(100s);
  CHECK(autoscale_target(in, st) == 4);
  in.backlog = 100;
  CHECK(autoscale_target(in, st) == 8);
}

TEST_CASE("autoscale shrinks one child per check, only after the keepalive, never below MIN") {
  autoscale_state st;
  const auto t0 = std::chrono::steady_clock::time_point(1000s);
  autoscale_input in{.current = 2, .busy = 2, .backlog = 4, .min = 2, .max = 6, .now = t0};
  CHECK(autoscale_target(in, st) == 6);  // grown at t0
  in.current = 6;
  in.busy = 0;
  in.backlog = 0;
  in.now = t0 + 10s;
  CHECK(autoscale_target(in, st) == 6);  // keepalive not passed
  in.now = t0 + 31s;
  CHECK(autoscale_target(in, st) == 5);
  in.current = 2;
  CHECK(autoscale_target(in, st) == 2);  // MIN
}
