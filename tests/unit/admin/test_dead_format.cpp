#include <doctest/doctest.h>

#include "admin/dead_format.hpp"
#include "celery/dead_letter.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::admin;
using celeriac::test::wire_fixture;

namespace {

const util::wall_time when = *util::parse_iso8601("2026-11-22T02:12:47.800589+00:00");

}  // namespace

TEST_CASE("a row names index, reason, time, queue and task, then the message on one line") {
  auto e = parse_dead_entry(
      celery::dead_letter_entry("worker_lost", "signal 11\n(running at 3 child deaths)", "celery", when,
                                wire_fixture("priority5.json")));
  CHECK(format_dead_row(4, e) ==
        "#4  worker_lost  2026-11-22T02:12:47.800589+00:00  queue celery  "
        "wireapp.add[debc9b18-c8a3-43e4-a84d-c4575ee71dd4]\n"
        "    signal 11 (running at 3 child deaths)\n");
}

TEST_CASE("rows for entries without a task or not JSON at all") {
  auto no_task = parse_dead_entry(celery::dead_letter_entry("not_json", "not JSON", "csv", when, "{oops"));
  CHECK(format_dead_row(0, no_task) == "#0  not_json  2026-11-22T02:12:47.800589+00:00  queue csv  task unknown\n"
                                       "    not JSON\n");
  CHECK(format_dead_row(1, parse_dead_entry("hand\npushed")) == "#1  (not a dead-letter entry)\n    hand pushed\n");
  const std::string long_text(300, 'x');
  CHECK(format_dead_row(2, parse_dead_entry(long_text)).ends_with(std::string(200, 'x') + "...\n"));
}

TEST_CASE("JSON lines: index first, the stored members, task fields and whether it can be requeued") {
  const std::string raw = wire_fixture("priority5.json");
  auto line = json::parse(format_dead_json(7, parse_dead_entry(celery::dead_letter_entry("unknown_task", "m", "celery",
                                                                                         when, raw))));
  REQUIRE(line.has_value());
  const auto& members = line->as_object();
  CHECK(members.front().first == "index");
  CHECK(line->find("index")->as_integer() == 7);
  CHECK(line->find("reason")->as_string() == "unknown_task");
  CHECK(line->find("raw")->as_string() == raw);
  CHECK(line->find("task")->as_string() == "wireapp.add");
  CHECK(line->find("task_id")->as_string() == "debc9b18-c8a3-43e4-a84d-c4575ee71dd4");
  CHECK(line->find("requeueable")->as_bool());
  CHECK_FALSE(line->find("not_requeueable_because"));

  auto dead = json::parse(format_dead_json(0, parse_dead_entry(celery::dead_letter_entry(
                                                  "no_delivery_tag", "m", "celery", when, "x"))));
  REQUIRE(dead.has_value());
  CHECK_FALSE(dead->find("requeueable")->as_bool());
  CHECK(dead->find("not_requeueable_because")->is_string());

  CHECK(format_dead_json(3, parse_dead_entry("junk")) ==
        R"({"index": 3, "unparsable": "junk", "requeueable": false})");
}

TEST_CASE("the summary line") {
  dead_filter none;
  dead_filter lost{"worker_lost", std::nullopt};
  CHECK(describe_listing(0, 0, 0, none) == "celeriac.dead is empty");
  CHECK(describe_listing(1, 1, 1, none) == "1 entry in celeriac.dead; showing it");
  CHECK(describe_listing(12, 12, 12, none) == "12 entries in celeriac.dead; showing all");
  CHECK(describe_listing(12, 12, 3, none) == "12 entries in celeriac.dead; showing the newest 3 (--limit)");
  CHECK(describe_listing(12, 5, 3, lost) ==
        "12 entries in celeriac.dead, 5 with reason worker_lost; showing the newest 3 (--limit)");
  CHECK(describe_listing(12, 0, 0, lost) == "12 entries in celeriac.dead, 0 with reason worker_lost");
}
