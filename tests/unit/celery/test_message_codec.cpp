#include <doctest/doctest.h>

#include "celery/message_codec.hpp"
#include "celery/signature.hpp"
#include "json/dump.hpp"
#include "unit/celery/fixtures.hpp"
#include "util/clock.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;

namespace {

task_message decode_fixture(std::string_view name) {
  auto m = decode_message(wire_fixture(name));
  REQUIRE_MESSAGE(m.has_value(), name << ": " << m.error());
  return std::move(*m);
}

}  // namespace

TEST_CASE("every captured Celery message decodes and re-encodes to the exact original bytes") {
  for (auto name : test::task_message_samples) {
    CAPTURE(name);
    std::string original = wire_fixture(name);
    auto m = decode_message(original);
    REQUIRE_MESSAGE(m.has_value(), m.error());
    CHECK(encode_message(*m) == original);
  }
}

TEST_CASE("decoded header values") {
  SUBCASE("plain apply_async") {
    auto m = decode_fixture("apply_async_plain.json");
    CHECK(m.headers.lang == "py");
    CHECK(m.headers.task == "wireapp.add");
    CHECK(m.headers.id == "06005ab6-0606-410f-96d9-7c8e813d6f26");
    CHECK(m.headers.root_id == m.headers.id);
    CHECK_FALSE(m.headers.parent_id);
    CHECK_FALSE(m.headers.shadow);
    CHECK_FALSE(m.eta_time());
    CHECK_FALSE(m.expires_time());
    CHECK(m.headers.retries == 0);
    CHECK_FALSE(m.time_limit());
    CHECK_FALSE(m.soft_time_limit());
    CHECK(m.headers.argsrepr == "(2, 3)");
    CHECK(m.headers.kwargsrepr == "{}");
    CHECK(m.headers.origin == "gen23383@vm");
    CHECK_FALSE(m.headers.ignore_result);
    CHECK(m.headers.extra.empty());
    CHECK(m.args == json::array{2, 3});
    CHECK(m.kwargs.empty());
    CHECK(m.embed.callbacks.is_null());
    CHECK(m.embed.chain.is_null());
    CHECK_FALSE(m.redelivered());
  }
  SUBCASE("kwargs") {
    auto m = decode_fixture("apply_async_kwargs.json");
    CHECK(m.args.empty());
    CHECK(json::value(m.kwargs) == json::value(json::object{{"x", 2}, {"y", 3}}));
    CHECK(m.headers.kwargsrepr == "{'x': 2, 'y': 3}");
  }
  SUBCASE("eta and countdown") {
    auto m = decode_fixture("eta.json");
    REQUIRE(m.eta_time());
    CHECK(*m.eta_time() == *util::parse_iso8601("2026-11-22T02:13:15.201640+00:00"));
    CHECK(util::iso8601_utc(*m.eta_time()) == *m.headers.eta);
    auto c = decode_fixture("countdown.json");
    REQUIRE(c.eta_time());
    CHECK(util::iso8601_utc(*c.eta_time()) == "2026-11-22T02:12:55.223258+00:00");
  }
  SUBCASE("expires and the expiration property") {
    auto m = decode_fixture("expires.json");
    REQUIRE(m.expires_time());
    CHECK(util::iso8601_utc(*m.expires_time()) == "2026-11-22T02:13:45.227280+00:00");
    CHECK(m.properties.expiration == "60000");
  }
  SUBCASE("priorities") {
    CHECK(decode_fixture("priority2.json").properties.priority == 2);
    CHECK(decode_fixture("priority5.json").properties.priority == 5);
    CHECK(decode_fixture("priority9.json").properties.priority == 9);
  }
  SUBCASE("queue") {
    auto m = decode_fixture("queue_csv.json");
    CHECK(m.properties.delivery_info.exchange == "");
    CHECK(m.properties.delivery_info.routing_key == "csv");
    CHECK(decode_fixture("send_task.json").properties.delivery_info.routing_key == "celery");
  }
  SUBCASE("retries") { CHECK(decode_fixture("retries_header.json").headers.retries == 3); }
  SUBCASE("all options: time limits, shadow, custom header, link, link_error") {
    auto m = decode_fixture("options_full.json");
    CHECK(m.time_limit() == 30.0);
    CHECK(m.soft_time_limit() == 20.0);
    CHECK(m.headers.timelimit[0].is_integer());
    CHECK(m.headers.shadow == "shadow-name");
    CHECK(m.headers.ignore_result);
    REQUIRE(m.headers.extra.size() == 1);
    CHECK(m.headers.extra[0].first == "x-custom");
    CHECK(m.headers.extra[0].second == json::value("v"));
    REQUIRE(m.embed.callbacks.is_array());
    auto link = decode_signature(m.embed.callbacks.as_array().at(0));
    REQUIRE(link);
    CHECK(link->task == "wireapp.mul");
    CHECK(link->args == json::array{10});
    CHECK_FALSE(link->immutable);
    auto errback = decode_signature(m.embed.errbacks.as_array().at(0));
    REQUIRE(errback);
    CHECK(errback->task == "wireapp.tsum");
  }
  SUBCASE("groups and chords") {
    auto g0 = decode_fixture("group_0.json");
    auto g1 = decode_fixture("group_1.json");
    CHECK(g0.headers.group == "5bb39685-c79b-42ea-b2a2-4829555f21cd");
    CHECK(g1.headers.group == g0.headers.group);
    CHECK_FALSE(g0.headers.group_index);

    auto c0 = decode_fixture("chord_0.json");
    auto c1 = decode_fixture("chord_1.json");
    CHECK(c0.headers.group == "7aef1e60-0b3a-4f00-a6e0-0eadda178b39");
    CHECK(c0.headers.group_index == 0);
    CHECK(c1.headers.group_index == 1);
    auto body = decode_signature(c0.embed.chord);
    REQUIRE(body);
    CHECK(body->task == "wireapp.tsum");
    CHECK(body->options.at(0).first == "task_id");
    CHECK(body->options.at(0).second == json::value("3c15fdec-87ce-4414-a2a5-640a0bc11222"));
  }
  SUBCASE("chains: the next step is last") {
    auto m = decode_fixture("chain3.json");
    REQUIRE(m.embed.chain.is_array());
    REQUIRE(m.embed.chain.as_array().size() == 2);
    auto next = decode_signature(m.embed.chain.as_array().back());
    REQUIRE(next);
    CHECK(next->task == "wireapp.mul");
    CHECK(next->args == json::array{10});
    CHECK(next->options.at(0).second == json::value("8cf43706-2522-46ee-b727-c5eaad3d1e0b"));
    auto last = decode_fixture("chain_next_message.json");
    CHECK(last.embed.chain == json::value(json::array{}));
    CHECK(last.headers.parent_id == "68b5fed9-0353-4f0f-8aad-ea4e396e9367");
  }
  SUBCASE("retry message: extra properties in kombu's position") {
    auto m = decode_fixture("retry_message.json");
    REQUIRE(m.properties.extra.size() == 2);
    CHECK(m.properties.extra[0].first == "replaced_task_nesting");
    CHECK(m.properties.extra[0].second == json::value(0));
    CHECK(m.properties.extra[1].first == "origin");
    CHECK(m.headers.retries == 1);
    CHECK(m.headers.parent_id == m.headers.id);
  }
  SUBCASE("redelivered flags") {
    auto m = decode_fixture("restored_unacked_message.json");
    CHECK(m.redelivered());
    CHECK(m.headers.extra.at(0).first == "redelivered");
    CHECK(m.properties.delivery_info.extra.at(0).first == "redelivered");
    CHECK(decode_fixture("requeued_by_reject_message.json").redelivered());
    CHECK_FALSE(decode_fixture("restored_unacked_original.json").redelivered());
  }
  SUBCASE("send_task with an unregistered name") {
    auto m = decode_fixture("send_task_unknown.json");
    CHECK(m.headers.task == "some.other.task");
    CHECK(m.headers.argsrepr == "[1]");
    CHECK(m.headers.kwargsrepr == "{'a': 'b'}");
  }
}

TEST_CASE("encode_body is the JSON Celery base64-encodes") {
  auto m = decode_fixture("apply_async_plain.json");
  CHECK(encode_body(m) ==
        R"([[2, 3], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}])");
  m.embed.extra.emplace_back("x", 1);
  CHECK(encode_body(m) ==
        R"([[2, 3], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null, "x": 1}])");
}

TEST_CASE("lenient about what other producers omit") {
  // A minimal protocol-2 envelope: only task and id, no body_encoding (the
  // body is then the JSON itself), embed null.
  auto m = decode_message(
      R"({"body": "[[1], {}, null]", "content-type": "application/json", "headers": {"task": "t", "id": "i"},
          "properties": {}})");
  REQUIRE_MESSAGE(m.has_value(), m.error());
  CHECK(m->headers.task == "t");
  CHECK(m->properties.correlation_id == "i");
  CHECK(m->args == json::array{1});
  CHECK(m->embed.chain.is_null());
  CHECK(m->headers.lang == "py");
  CHECK(m->properties.priority == 0);
  CHECK_FALSE(m->properties.expiration);
}

TEST_CASE("non-ASCII arguments survive the round trip with ensure_ascii escapes") {
  auto m = decode_fixture("apply_async_plain.json");
  m.args = json::array{"caf\xC3\xA9", "\xF0\x9F\x98\x80"};
  auto again = decode_message(encode_message(m));
  REQUIRE(again);
  CHECK(again->args == m.args);
  CHECK(encode_body(m).find("\\u00e9") != std::string::npos);
  CHECK(encode_message(*again) == encode_message(m));
}
