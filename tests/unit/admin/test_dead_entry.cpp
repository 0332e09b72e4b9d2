#include <doctest/doctest.h>

#include "admin/dead_entry.hpp"
#include "celery/dead_letter.hpp"
#include "celery/message_codec.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::admin;
using celeriac::test::wire_fixture;

namespace {

const util::wall_time when = *util::parse_iso8601("2026-11-22T02:12:47.800589+00:00");

// An entry as the worker writes it for a message it could not run.
std::string entry_for(std::string_view reason, std::string_view raw, std::string_view queue = "celery") {
  return celery::dead_letter_entry(reason, "it failed", queue, when, raw);
}

}  // namespace

TEST_CASE("an entry with a Celery envelope: task from decode_message, tag, priority, routing key") {
  const std::string raw = wire_fixture("priority5.json");
  const std::string text = entry_for("unknown_task", raw);
  auto e = parse_dead_entry(text);
  CHECK(e.well_formed);
  CHECK(e.text == text);
  CHECK(e.reason == "unknown_task");
  CHECK(e.message == "it failed");
  CHECK(e.queue == "celery");
  CHECK(e.time == "2026-11-22T02:12:47.800589+00:00");
  CHECK(e.task == "wireapp.add");
  CHECK(e.task_id == "debc9b18-c8a3-43e4-a84d-c4575ee71dd4");
  CHECK(e.raw == raw);
  CHECK(e.delivery_tag == "5716be25-5df3-4bc8-9190-596f7ba191f0");
  CHECK(e.priority == 5);
  CHECK(e.routing_key == "celery");
}

TEST_CASE("a decode_error entry keeps the task it recorded when the envelope does not decode") {
  const std::string raw =
      R"({"body": "", "content-type": "application/x-python-serialize", "headers": {"task": "t", "id": "i"},)"
      R"( "properties": {"delivery_tag": "dt", "priority": 9}})";
  auto err = celery::decode_message(raw);
  REQUIRE_FALSE(err.has_value());
  auto e = parse_dead_entry(celery::dead_letter_entry(err.error(), "csv", when, raw));
  CHECK(e.reason == "unsupported_content_type");
  CHECK(e.task == "t");
  CHECK(e.task_id == "i");
  CHECK(e.delivery_tag == "dt");
  CHECK(e.priority == 9);
}

TEST_CASE("entries whose exact message is unknown have no raw") {
  SUBCASE("raw_base64: the raw field is lossy") {
    auto e = parse_dead_entry(entry_for("not_json", "\xFF\xFE garbage"));
    CHECK(e.well_formed);
    CHECK(e.has_raw_base64);
    CHECK_FALSE(e.raw);
  }
  SUBCASE("no raw at all") {
    auto e = parse_dead_entry(R"({"reason": "x", "queue": "celery"})");
    CHECK(e.well_formed);
    CHECK_FALSE(e.raw);
  }
}

TEST_CASE("text that is not a JSON object is kept as it is") {
  for (std::string text : {"", "garbage", "[1, 2]", "{\"reason\": "}) {
    auto e = parse_dead_entry(text);
    CHECK_FALSE(e.well_formed);
    CHECK(e.text == text);
    CHECK_FALSE(plan_requeue(e).has_value());
  }
}

TEST_CASE("filters: reason, the decode_error group, task id") {
  auto unknown = parse_dead_entry(entry_for("unknown_task", wire_fixture("priority5.json")));
  auto decode = parse_dead_entry(entry_for("bad_body", "{}"));
  auto lost = parse_dead_entry(entry_for("worker_lost", wire_fixture("send_task.json")));
  CHECK(dead_filter{}.matches(unknown));
  CHECK(dead_filter{"unknown_task", std::nullopt}.matches(unknown));
  CHECK_FALSE(dead_filter{"unknown_task", std::nullopt}.matches(decode));
  CHECK(dead_filter{"decode_error", std::nullopt}.matches(decode));
  CHECK_FALSE(dead_filter{"decode_error", std::nullopt}.matches(unknown));
  CHECK_FALSE(dead_filter{"decode_error", std::nullopt}.matches(lost));
  CHECK(dead_filter{std::nullopt, "debc9b18-c8a3-43e4-a84d-c4575ee71dd4"}.matches(unknown));
  CHECK_FALSE(dead_filter{std::nullopt, "debc9b18-c8a3-43e4-a84d-c4575ee71dd4"}.matches(lost));
  CHECK_FALSE(dead_filter{"worker_lost", "debc9b18-c8a3-43e4-a84d-c4575ee71dd4"}.matches(unknown));
}

TEST_CASE("known reasons") {
  for (auto r : {"not_json", "bad_property", "unknown_task", "worker_lost", "no_delivery_tag", "decode_error"})
    CHECK(is_known_reason(r));
  CHECK_FALSE(is_known_reason("bogus"));
  CHECK(known_reasons().size() == 15);
}

TEST_CASE("requeue plans go to kombu's priority list of the entry's queue") {
  SUBCASE("priority 5 -> step 3") {
    auto plan = plan_requeue(parse_dead_entry(entry_for("unknown_task", wire_fixture("priority5.json"), "csv")));
    REQUIRE(plan.has_value());
    CHECK(plan->queue == "csv");
    CHECK(plan->list == std::string("csv\x06\x16" "3"));
    CHECK(plan->envelope == wire_fixture("priority5.json"));
    CHECK(plan->delivery_tag == "5716be25-5df3-4bc8-9190-596f7ba191f0");
  }
  SUBCASE("priority 9 and 2") {
    CHECK(plan_requeue(parse_dead_entry(entry_for("x", wire_fixture("priority9.json"))))->list ==
          std::string("celery\x06\x16" "9"));
    CHECK(plan_requeue(parse_dead_entry(entry_for("x", wire_fixture("priority2.json"))))->list == "celery");
  }
  SUBCASE("no queue in the entry: the envelope's routing key") {
    auto plan = plan_requeue(parse_dead_entry(entry_for("worker_lost", wire_fixture("queue_csv.json"), "")));
    REQUIRE(plan.has_value());
    CHECK(plan->queue == "csv");
  }
  SUBCASE("a priority kombu cannot read is the default") {
    const std::string raw = R"({"headers": {}, "properties": {"delivery_tag": "t", "priority": "high"}})";
    CHECK(plan_requeue(parse_dead_entry(entry_for("bad_property", raw)))->list == "celery");
  }
}

TEST_CASE("entries that cannot be requeued say why") {
  auto why = [](const std::string& text) {
    auto plan = plan_requeue(parse_dead_entry(text));
    REQUIRE_FALSE(plan.has_value());
    return plan.error().why;
  };
  CHECK(why(entry_for("no_delivery_tag", wire_fixture("send_task.json"))).find("delivery tag") != std::string::npos);
  CHECK(why(entry_for("not_json", "\xFF garbage")).find("raw_base64") != std::string::npos);
  CHECK(why(entry_for("not_json", "garbage")).find("delivery_tag") != std::string::npos);
  CHECK(why(R"({"reason": "x"})").find("no raw") != std::string::npos);
  CHECK(why(entry_for("x", wire_fixture("send_task.json"), "bad queue")).find("queue") != std::string::npos);
}
