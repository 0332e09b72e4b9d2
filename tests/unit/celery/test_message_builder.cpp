#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>

#include "celery/message_builder.hpp"
#include "celery/message_codec.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"
#include "util/uuid.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;
using namespace std::chrono_literals;

namespace {

// Builds a message with the random parts (ids, oid, origin, tag) taken from
// a captured sample; everything else must come out of make_task_message
// exactly as Celery's send_task produced it.
void check_reproduces(std::string_view sample, std::string name, json::array args, json::object kwargs,
                      message_options o) {
  CAPTURE(sample);
  const std::string original = wire_fixture(sample);
  auto captured = decode_message(original);
  REQUIRE(captured.has_value());
  o.task_id = captured->headers.id;
  o.reply_to = captured->properties.reply_to;
  o.origin = captured->headers.origin;
  o.args_style = sequence_style::tuple;  // the samples come from apply_async((2, 3))
  task_message m = make_task_message(std::move(name), std::move(args), std::move(kwargs), std::move(o));
  m.properties.delivery_tag = captured->properties.delivery_tag;
  CHECK(encode_message(m) == original);
}

util::wall_time iso(std::string_view text) { return *util::parse_iso8601(text); }

signature sig(std::string task, json::array args, json::object options = {}) {
  signature s;
  s.task = std::move(task);
  s.args = std::move(args);
  s.options = std::move(options);
  return s;
}

}  // namespace

TEST_CASE("make_task_message reproduces send_task's messages byte for byte") {
  SUBCASE("plain") { check_reproduces("send_task.json", "wireapp.add", {4, 5}, {}, {}); }
  SUBCASE("kwargs") {
    check_reproduces("apply_async_kwargs.json", "wireapp.add", {}, json::object{{"x", 2}, {"y", 3}}, {});
  }
  SUBCASE("countdown becomes an absolute eta") {
    message_options o;
    o.countdown = 10;
    o.now = iso("2026-11-22T02:12:45.223258+00:00");
    check_reproduces("countdown.json", "wireapp.add", {2, 3}, {}, o);
  }
  SUBCASE("eta") {
    message_options o;
    o.eta = iso("2026-11-22T02:13:15.201640+00:00");
    check_reproduces("eta.json", "wireapp.add", {2, 3}, {}, o);
  }
  SUBCASE("expires in seconds, with the expiration property in ms") {
    message_options o;
    o.expires_in = 60;
    o.now = iso("2026-11-22T02:12:45.227280+00:00");
    check_reproduces("expires.json", "wireapp.add", {2, 3}, {}, o);
  }
  SUBCASE("priority") {
    message_options o;
    o.priority = 5;
    check_reproduces("priority5.json", "wireapp.add", {2, 3}, {}, o);
  }
  SUBCASE("queue") {
    message_options o;
    o.queue = "csv";
    check_reproduces("queue_csv.json", "wireapp.add", {2, 3}, {}, o);
  }
  SUBCASE("retries") {
    message_options o;
    o.retries = 3;
    check_reproduces("retries_header.json", "wireapp.add", {2, 3}, {}, o);
  }
  SUBCASE("link, link_error, time limits, shadow, custom header, ignore_result") {
    message_options o;
    o.link = {sig("wireapp.mul", {10})};
    o.link_error = {sig("wireapp.tsum", {})};
    o.time_limit = 30;
    o.soft_time_limit = 20;
    o.shadow = "shadow-name";
    o.headers = {{"x-custom", "v"}};
    o.ignore_result = true;
    check_reproduces("options_full.json", "wireapp.add", {2, 3}, {}, o);
  }
  SUBCASE("group member") {
    message_options o;
    o.group = "5bb39685-c79b-42ea-b2a2-4829555f21cd";
    check_reproduces("group_0.json", "wireapp.add", {1, 1}, {}, o);
  }
  SUBCASE("chord header member") {
    message_options o;
    o.group = "7aef1e60-0b3a-4f00-a6e0-0eadda178b39";
    o.group_index = 0;
    o.chord = sig("wireapp.tsum", {},
                  {{"task_id", "3c15fdec-87ce-4414-a2a5-640a0bc11222"},
                   {"reply_to", "506a8d6f-fc71-3fa7-a5bf-b070f54b7e8b"}});
    check_reproduces("chord_0.json", "wireapp.add", {1, 1}, {}, o);
  }
  SUBCASE("chain: steps given in execution order are stored reversed") {
    message_options o;
    o.chain = {sig("wireapp.mul", {10}, {{"task_id", "8cf43706-2522-46ee-b727-c5eaad3d1e0b"}}),
               sig("wireapp.mul", {2}, {{"task_id", "48e683e9-2b75-4dbf-8686-eea02d2a1e2d"}})};
    // reply_to is filled in from the message, as Celery's freeze does.
    check_reproduces("chain3.json", "wireapp.add", {1, 2}, {}, o);
  }
  SUBCASE("beat uses the list form of argsrepr") {
    const std::string original = wire_fixture("beat_message.json");
    auto captured = decode_message(original);
    REQUIRE(captured);
    message_options o;
    o.task_id = captured->headers.id;
    o.reply_to = captured->properties.reply_to;
    o.origin = captured->headers.origin;
    auto m = make_task_message("wireapp.add", {2, 2}, {}, o);
    m.properties.delivery_tag = captured->properties.delivery_tag;
    CHECK(encode_message(m) == original);
  }
}

TEST_CASE("make_task_message defaults: what send_task fills in") {
  auto m = make_task_message("wireapp.add", {4, 5}, {});
  CHECK(util::is_uuid(m.headers.id));
  CHECK(m.properties.correlation_id == m.headers.id);
  CHECK(m.headers.root_id == m.headers.id);
  CHECK_FALSE(m.headers.parent_id);
  CHECK(m.headers.lang == "py");
  CHECK(m.headers.argsrepr == "[4, 5]");
  CHECK(m.headers.kwargsrepr == "{}");
  CHECK(m.headers.origin == default_origin());
  CHECK(m.headers.origin.rfind("gen" + std::to_string(::getpid()) + "@", 0) == 0);
  CHECK(m.headers.timelimit[0].is_null());
  CHECK(m.headers.timelimit[1].is_null());
  CHECK_FALSE(m.headers.eta);
  CHECK_FALSE(m.headers.expires);
  CHECK(m.properties.reply_to == process_oid());
  CHECK(util::is_uuid(process_oid()));
  CHECK(m.properties.delivery_mode == 2);
  CHECK_FALSE(m.properties.expiration);
  CHECK(m.properties.delivery_info.exchange == "");
  CHECK(m.properties.delivery_info.routing_key == "celery");
  CHECK(m.properties.priority == 0);
  CHECK(m.properties.body_encoding == "base64");
  CHECK(util::is_uuid(m.properties.delivery_tag));
  CHECK(m.properties.delivery_tag != m.headers.id);
  CHECK(m.embed.callbacks.is_null());
  CHECK(m.embed.errbacks.is_null());
  CHECK(m.embed.chain.is_null());
  CHECK(m.embed.chord.is_null());

  auto again = decode_message(encode_message(m));
  REQUIRE(again);
  CHECK(encode_message(*again) == encode_message(m));

  // Every call is a new task and a new delivery.
  auto other = make_task_message("wireapp.add", {4, 5}, {});
  CHECK(other.headers.id != m.headers.id);
  CHECK(other.properties.delivery_tag != m.properties.delivery_tag);
}

TEST_CASE("the builder's layout matches send_task.json key for key") {
  auto built = json::parse(encode_message(make_task_message("wireapp.add", {4, 5}, {})));
  auto captured = json::parse(wire_fixture("send_task.json"));
  REQUIRE(built);
  REQUIRE(captured);
  auto keys = [](const json::value& v) {
    std::vector<std::string> out;
    for (const auto& [k, _] : v.as_object()) out.push_back(k);
    return out;
  };
  CHECK(keys(*built) == keys(*captured));
  CHECK(keys(*built->find("headers")) == keys(*captured->find("headers")));
  CHECK(keys(*built->find("properties")) == keys(*captured->find("properties")));
  CHECK(keys(*built->find("properties")->find("delivery_info")) ==
        keys(*captured->find("properties")->find("delivery_info")));
  CHECK(*built->find("body") == *captured->find("body"));  // same args → same body bytes
}

TEST_CASE("expires as an absolute time; past expiry clamps the expiration property to 0") {
  const auto now = iso("2026-11-22T02:00:00+00:00");
  message_options o;
  o.now = now;
  o.expires_at = now + 90500ms;
  auto m = make_task_message("t", {}, {}, o);
  CHECK(m.headers.expires == "2026-11-22T02:01:30.500000+00:00");
  CHECK(m.properties.expiration == "90500");

  o.expires_at = now - 5s;
  m = make_task_message("t", {}, {}, o);
  CHECK(m.headers.expires == "2026-11-22T01:59:55+00:00");
  CHECK(m.properties.expiration == "0");

  message_options rel;
  rel.now = now;
  rel.expires_in = 1.5;
  CHECK(make_task_message("t", {}, {}, rel).properties.expiration == "1500");
}

TEST_CASE("countdown wins over eta; a zero countdown sets no eta (Celery's `if countdown:`)") {
  const auto now = iso("2026-11-22T02:00:00+00:00");
  message_options o;
  o.now = now;
  o.eta = now + 1h;
  o.countdown = 2.5;
  CHECK(make_task_message("t", {}, {}, o).headers.eta == "2026-11-22T02:00:02.500000+00:00");
  o.countdown = 0;
  CHECK(make_task_message("t", {}, {}, o).headers.eta == "2026-11-22T03:00:00+00:00");
  o.eta.reset();
  CHECK_FALSE(make_task_message("t", {}, {}, o).headers.eta);
}

TEST_CASE("chain steps without a task_id are frozen with one") {
  message_options o;
  // g++ 12 -O3 reports a false -Wmaybe-uninitialized on filling the
  // disengaged optional<string> (assignment and emplace alike, once inlined).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
  o.reply_to.emplace("oid");
#pragma GCC diagnostic pop
  o.chain = {sig("a", {}), sig("b", {})};
  auto m = make_task_message("t", {}, {}, o);
  REQUIRE(m.embed.chain.is_array());
  const auto& steps = m.embed.chain.as_array();
  REQUIRE(steps.size() == 2);
  CHECK(*steps[0].find("task") == json::value("b"));
  CHECK(*steps[1].find("task") == json::value("a"));
  const json::value& opts = *steps[1].find("options");
  CHECK(util::is_uuid(opts.find("task_id")->as_string()));
  CHECK(*opts.find("reply_to") == json::value("oid"));
}

TEST_CASE("fractional time limits stay floats, integral ones become ints") {
  message_options o;
  o.time_limit = 2.5;
  o.soft_time_limit = 2;
  auto m = make_task_message("t", {}, {}, o);
  CHECK(m.headers.timelimit[0] == json::value(2.5));
  CHECK(m.headers.timelimit[1] == json::value(2));
  CHECK(encode_message(m).find("\"timelimit\": [2.5, 2]") != std::string::npos);
}
