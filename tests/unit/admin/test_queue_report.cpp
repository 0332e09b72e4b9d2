#include <doctest/doctest.h>

#include "admin/queue_report.hpp"
#include "celery/kombu_redis.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::admin;

TEST_CASE("the queue a binding names") {
  CHECK(queue_of_binding("_kombu.binding.celery", celery::binding_member("celery")) == "celery");
  CHECK(queue_of_binding("_kombu.binding.csv", test::wire_fixture("binding_member_csv.raw")) == "csv");
  CHECK(queue_of_binding("_kombu.binding.tasks", std::string("rk\x06\x16" "pat\x06\x16q1")) == "q1");
  // Broadcast and event exchanges: no task queues there.
  CHECK_FALSE(queue_of_binding("_kombu.binding.celery.pidbox", std::string("\x06\x16\x06\x16w@h.celery.pidbox")));
  CHECK_FALSE(queue_of_binding("_kombu.binding.reply.celery.pidbox", std::string("a\x06\x16\x06\x16" "a")));
  CHECK_FALSE(queue_of_binding("_kombu.binding.celeryev", std::string("worker.#\x06\x16\x06\x16" "celeryev.x")));
  // Malformed.
  CHECK_FALSE(queue_of_binding("_kombu.binding.celery", "celery"));
  CHECK_FALSE(queue_of_binding("_kombu.binding.celery", std::string("celery\x06\x16")));
  CHECK_FALSE(queue_of_binding("_kombu.binding.celery", std::string("c\x06\x16\x06\x16")));
  CHECK_FALSE(queue_of_binding("other", celery::binding_member("celery")));
}

TEST_CASE("durations and due times") {
  CHECK(human_duration(0) == "0s");
  CHECK(human_duration(59.4) == "59s");
  CHECK(human_duration(250) == "4m 10s");
  CHECK(human_duration(7500) == "2h 5m");
  CHECK(human_duration(3 * 86400 + 3700) == "3d 1h");
  CHECK(human_duration(-5) == "0s");
  const double due = 1795317922.0;  // 2026-11-22 03:25:22 UTC
  CHECK(describe_due(due, due - 250) == "2026-11-22 03:25:22 UTC (in 4m 10s)");
  CHECK(describe_due(due + 0.75, due) == "2026-11-22 03:25:22 UTC (in 1s)");
  CHECK(describe_due(due, due + 12) == "2026-11-22 03:25:22 UTC (12s ago)");
}

TEST_CASE("the table and the JSON lines") {
  queue_stats celery{"celery", {9, 2, 0, 1}, 3, 2, 1795317922.5};
  queue_stats csv{"csv-imports", {}, 0, 0, std::nullopt};
  CHECK(celery.waiting() == 12);
  const queue_stats both[] = {celery, csv};
  CHECK(format_queue_table(both, 1795317922.5 - 250) ==
        "QUEUE         WAITING   UNACKED   DELAYED  NEXT DUE\n"
        "celery             12         3         2  2026-11-22 03:25:22 UTC (in 4m 10s)\n"
        "csv-imports         0         0         0  -\n");
  CHECK(format_queue_json(celery) ==
        R"({"queue": "celery", "waiting": 12, "waiting_by_priority": {"0": 9, "3": 2, "6": 0, "9": 1},)"
        R"( "unacked": 3, "delayed": 2, "next_due": 1795317922.5})");
  auto parsed = json::parse(format_queue_json(csv));
  REQUIRE(parsed.has_value());
  CHECK(parsed->find("next_due")->is_null());
  CHECK(json::parse(format_queue_json(queue_stats{"q\"x", {}, 0, 0, std::nullopt})).has_value());
}
