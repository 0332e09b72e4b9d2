// Counters, gauges and histograms with labels, and the exposition of a
// registry, byte for byte.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <stdexcept>

#include "metrics/registry.hpp"

using namespace celeriac::metrics;

TEST_CASE("a registry renders HELP, TYPE and sorted series in declaration order") {
  registry r;
  auto& tasks = r.add_counter("celeriac_tasks_total", "Tasks finished, by name and outcome.", {"task", "outcome"});
  auto& up = r.add_gauge("celeriac_up", "1 while \"up\"\\running\nsecond line");
  tasks.inc({"tasks.b", "success"});
  tasks.inc({"tasks.a", "failure"}, 2);
  tasks.inc({"tasks.a", "success"}, 3);
  up.set({}, 1);
  CHECK(r.render() ==
        "# HELP celeriac_tasks_total Tasks finished, by name and outcome.\n"
        "# TYPE celeriac_tasks_total counter\n"
        "celeriac_tasks_total{task=\"tasks.a\",outcome=\"failure\"} 2\n"
        "celeriac_tasks_total{task=\"tasks.a\",outcome=\"success\"} 3\n"
        "celeriac_tasks_total{task=\"tasks.b\",outcome=\"success\"} 1\n"
        "# HELP celeriac_up 1 while \"up\"\\\\running\\nsecond line\n"
        "# TYPE celeriac_up gauge\n"
        "celeriac_up 1\n");
}

TEST_CASE("label values are escaped in the series") {
  registry r;
  auto& c = r.add_counter("x_total", "x", {"task"});
  c.inc({"we\\ird\"na\nme"});
  CHECK(r.render() == "# HELP x_total x\n# TYPE x_total counter\nx_total{task=\"we\\\\ird\\\"na\\nme\"} 1\n");
}

TEST_CASE("a family without labels is exposed at zero before anything happens; a labelled one only declared") {
  registry r;
  r.add_counter("a_total", "a");
  r.add_gauge("g", "g", {"queue"});
  CHECK(r.render() == "# HELP a_total a\n# TYPE a_total counter\na_total 0\n# HELP g g\n# TYPE g gauge\n");
}

TEST_CASE("histograms: cumulative buckets with le, +Inf, _sum and _count") {
  registry r;
  auto& h = r.add_histogram("celeriac_task_runtime_seconds", "Runtime.", {"task"}, {0.1, 1, 2.5});
  h.observe({"t"}, 0.05);
  h.observe({"t"}, 0.1);  // on a bound: counted in that bucket (le)
  h.observe({"t"}, 2);
  h.observe({"t"}, 100);
  CHECK(r.render() ==
        "# HELP celeriac_task_runtime_seconds Runtime.\n"
        "# TYPE celeriac_task_runtime_seconds histogram\n"
        "celeriac_task_runtime_seconds_bucket{task=\"t\",le=\"0.1\"} 2\n"
        "celeriac_task_runtime_seconds_bucket{task=\"t\",le=\"1\"} 2\n"
        "celeriac_task_runtime_seconds_bucket{task=\"t\",le=\"2.5\"} 3\n"
        "celeriac_task_runtime_seconds_bucket{task=\"t\",le=\"+Inf\"} 4\n"
        "celeriac_task_runtime_seconds_sum{task=\"t\"} 102.15\n"
        "celeriac_task_runtime_seconds_count{task=\"t\"} 4\n");
}

TEST_CASE("histogram counts read from elsewhere add up, per bucket") {
  registry r;
  auto& h = r.add_histogram("lag_seconds", "lag", {}, {1, 10});
  const std::array<std::uint64_t, 3> first{1, 2, 3};
  const std::array<std::uint64_t, 3> second{0, 1, 0};
  h.add_counts({}, first, 40);
  h.add_counts({}, second, 5);
  CHECK(r.render() ==
        "# HELP lag_seconds lag\n# TYPE lag_seconds histogram\n"
        "lag_seconds_bucket{le=\"1\"} 1\nlag_seconds_bucket{le=\"10\"} 4\nlag_seconds_bucket{le=\"+Inf\"} 7\n"
        "lag_seconds_sum 45\nlag_seconds_count 7\n");
  const std::array<std::uint64_t, 2> too_few{1, 2};
  CHECK_THROWS_AS(h.add_counts({}, too_few, 1), std::invalid_argument);
}

TEST_CASE("misuse is refused at once") {
  registry r;
  CHECK_THROWS_AS(r.add_counter("tasks", "no _total"), std::invalid_argument);
  CHECK_THROWS_AS(r.add_gauge("bad-name", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.add_gauge("g", "x", {"__name"}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_gauge("g", "x", {"a", "a"}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("h", "x", {"le"}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("h", "x", {}, {1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("h", "x", {}, {2, 1}), std::invalid_argument);

  auto& c = r.add_counter("c_total", "c", {"task"});
  CHECK_THROWS_AS(c.inc({}), std::invalid_argument);
  CHECK_THROWS_AS(c.inc({"a", "b"}), std::invalid_argument);
  CHECK_THROWS_AS(c.inc({"a"}, -1), std::invalid_argument);
  CHECK_THROWS_AS(r.add_gauge("c_total", "again"), std::invalid_argument);

  r.add_histogram("h", "x", {}, {1});
  CHECK_THROWS_AS(r.add_counter("h_count", "collides with the histogram's count"), std::invalid_argument);
  CHECK_THROWS_AS(r.add_gauge("h_bucket", "collides"), std::invalid_argument);
}

TEST_CASE("values read back") {
  registry r;
  auto& c = r.add_counter("c_total", "c", {"k"});
  auto& g = r.add_gauge("g", "g", {"k"});
  c.set_total({"a"}, 7);
  c.inc({"a"});
  g.set({"a"}, 3);
  g.add({"a"}, -5);
  CHECK(c.value({"a"}) == 8);
  CHECK(c.value({"missing"}) == 0);
  CHECK(g.value({"a"}) == -2);
}
