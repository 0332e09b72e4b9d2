#include <doctest/doctest.h>

#include "celery/kombu_redis.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;

TEST_CASE("priority sub-queue names follow kombu's steps and clamping") {
  CHECK(queue_for_priority("q", 0) == "q");
  CHECK(queue_for_priority("q", 2) == "q");
  CHECK(queue_for_priority("q", 3) == std::string("q\x06\x16" "3"));
  CHECK(queue_for_priority("q", 5) == std::string("q\x06\x16" "3"));
  CHECK(queue_for_priority("q", 6) == std::string("q\x06\x16" "6"));
  CHECK(queue_for_priority("q", 8) == std::string("q\x06\x16" "6"));
  CHECK(queue_for_priority("q", 9) == std::string("q\x06\x16" "9"));
  CHECK(queue_for_priority("q", 12) == std::string("q\x06\x16" "9"));
  CHECK(queue_for_priority("q", -1) == "q");
  CHECK(queue_for_priority("celery", 5) == std::string("celery\x06\x16" "3"));
}

TEST_CASE("priority_lists: one queue, and the BRPOP order for several") {
  CHECK(priority_lists("celery") == std::vector<std::string>{"celery", std::string("celery\x06\x16" "3"),
                                                            std::string("celery\x06\x16" "6"),
                                                            std::string("celery\x06\x16" "9")});
  const std::vector<std::string> queues{"csv", "celery"};
  CHECK(priority_lists(queues) ==
        std::vector<std::string>{"csv", "celery", std::string("csv\x06\x16" "3"), std::string("celery\x06\x16" "3"),
                                 std::string("csv\x06\x16" "6"), std::string("celery\x06\x16" "6"),
                                 std::string("csv\x06\x16" "9"), std::string("celery\x06\x16" "9")});
}

TEST_CASE("queue_of_list strips the priority suffix") {
  CHECK(queue_of_list("celery") == "celery");
  CHECK(queue_of_list(std::string_view("celery\x06\x16" "3")) == "celery");
  CHECK(queue_of_list(std::string_view("a\x06\x16" "b\x06\x16" "9")) == std::string_view("a\x06\x16" "b"));
}

TEST_CASE("binding members match the captured set members") {
  CHECK(binding_member("celery") == wire_fixture("binding_member_celery.raw"));
  CHECK(binding_member("csv") == wire_fixture("binding_member_csv.raw"));
}

TEST_CASE("unacked entries match kombu's HSET values") {
  // The trace's LPUSH payload and the HSET the worker wrote for it.
  CHECK(unacked_entry(wire_fixture("restored_unacked_original.json"), "", "celery") ==
        wire_fixture("restored_unacked_hash_value.json"));

  const std::string value = wire_fixture("unacked_hash_value.json");
  auto parts = parse_unacked_entry(value);
  REQUIRE(parts.has_value());
  CHECK(parts->exchange == "");
  CHECK(parts->routing_key == "celery");
  CHECK(parts->payload.rfind("{\"body\": \"W1s0XSwg", 0) == 0);
  CHECK(unacked_entry(parts->payload, parts->exchange, parts->routing_key) == value);
}

TEST_CASE("parse_unacked_entry refuses malformed entries") {
  CHECK_FALSE(parse_unacked_entry("").has_value());
  CHECK_FALSE(parse_unacked_entry("{}").has_value());
  CHECK_FALSE(parse_unacked_entry(R"([{}, "", 1])").has_value());
  CHECK_FALSE(parse_unacked_entry(R"(["payload", "", "celery"])").has_value());
  CHECK_FALSE(parse_unacked_entry(R"([{}, ""])").has_value());
  CHECK(parse_unacked_entry(R"([{}, "", "celery"])").has_value());
}

TEST_CASE("mark_redelivered is byte-identical to kombu's restore") {
  auto restored = mark_redelivered(wire_fixture("restored_unacked_original.json"));
  REQUIRE(restored.has_value());
  CHECK(*restored == wire_fixture("restored_unacked_message.json"));

  auto requeued = mark_redelivered(wire_fixture("requeued_by_reject_original.json"));
  REQUIRE(requeued.has_value());
  CHECK(*requeued == wire_fixture("requeued_by_reject_message.json"));

  // Restoring twice changes nothing more: existing keys keep their place.
  auto twice = mark_redelivered(*restored);
  REQUIRE(twice.has_value());
  CHECK(*twice == *restored);
}

TEST_CASE("mark_redelivered stops where kombu's KeyError would") {
  auto no_headers = mark_redelivered(R"({"body": "", "properties": {"delivery_info": {}}})");
  REQUIRE(no_headers.has_value());
  CHECK(*no_headers == R"({"body": "", "properties": {"delivery_info": {}}})");

  auto no_info = mark_redelivered(R"({"headers": {}, "properties": {}})");
  REQUIRE(no_info.has_value());
  CHECK(*no_info == R"({"headers": {"redelivered": true}, "properties": {}})");

  CHECK_FALSE(mark_redelivered("[]").has_value());
  CHECK_FALSE(mark_redelivered("{").has_value());
}
