#include <doctest/doctest.h>

#include <chrono>

#include "celery/canvas.hpp"
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

task_message decode_fixture(std::string_view name) {
  auto m = decode_message(wire_fixture(name));
  REQUIRE_MESSAGE(m.has_value(), name << ": " << m.error());
  return std::move(*m);
}

signature sig(std::string task, json::array args, json::object options = {}, bool immutable = false) {
  signature s;
  s.task = std::move(task);
  s.args = std::move(args);
  s.options = std::move(options);
  s.immutable = immutable;
  return s;
}

// A finished task with the given embed, as decoded from the wire.
task_message parent_with(json::value callbacks, json::value errbacks = nullptr) {
  message_options o;
  o.task_id = "P";
  o.root_id = "ROOT";
  auto m = make_task_message("wireapp.add", {1, 2}, {}, o);
  m.embed.callbacks = std::move(callbacks);
  m.embed.errbacks = std::move(errbacks);
  return m;
}

const json::value* property(const task_message& m, std::string_view key) {
  for (const auto& [k, v] : m.properties.extra)
    if (k == key) return &v;
  return nullptr;
}

}  // namespace

TEST_CASE("next_chain_message reproduces the worker's chain step byte for byte") {
  // chain_first_message.json is add(1, 2) | mul(10) as LPUSHed by the client;
  // chain_next_message.json is what the worker LPUSHed after add returned 3.
  auto first = decode_fixture("chain_first_message.json");
  const std::string expected = wire_fixture("chain_next_message.json");
  auto captured = decode_message(expected);
  REQUIRE(captured);

  auto next = next_chain_message(first, 3, {.origin = captured->headers.origin});
  REQUIRE_MESSAGE(next.has_value(), next.error());
  REQUIRE(next->has_value());
  task_message& m = **next;
  CHECK(m.headers.task == "wireapp.mul");
  CHECK(m.args == json::array{3, 10});
  CHECK(m.headers.argsrepr == "(3, 10)");
  CHECK(m.headers.parent_id == first.headers.id);
  CHECK(m.headers.root_id == first.headers.id);
  CHECK(m.embed.chain == json::value(json::array{}));
  CHECK(util::is_uuid(m.properties.delivery_tag));
  // Only the delivery tag is random; everything else is carried or derived.
  m.properties.delivery_tag = captured->properties.delivery_tag;
  CHECK(encode_message(m) == expected);
}

TEST_CASE("next_chain_message pops the last step and passes the rest on") {
  auto first = decode_fixture("chain3.json");
  auto next = next_chain_message(first, 3);
  REQUIRE(next.has_value());
  REQUIRE(next->has_value());
  const task_message& m = **next;
  CHECK(m.headers.id == "8cf43706-2522-46ee-b727-c5eaad3d1e0b");
  CHECK(m.args == json::array{3, 10});
  REQUIRE(m.embed.chain.is_array());
  REQUIRE(m.embed.chain.as_array().size() == 1);
  CHECK(*m.embed.chain.as_array()[0].find("args") == json::value(json::array{2}));
  CHECK(m.headers.root_id == first.headers.id);

  // The step after that one: parent is the step, root stays the first task.
  auto last = next_chain_message(m, 30);
  REQUIRE(last.has_value());
  REQUIRE(last->has_value());
  CHECK((*last)->headers.id == "48e683e9-2b75-4dbf-8686-eea02d2a1e2d");
  CHECK((*last)->headers.parent_id == m.headers.id);
  CHECK((*last)->headers.root_id == first.headers.id);
  CHECK((*last)->embed.chain == json::value(json::array{}));

  auto done = next_chain_message(**last, 60);
  REQUIRE(done.has_value());
  CHECK_FALSE(done->has_value());
  auto plain = next_chain_message(decode_fixture("send_task.json"), 9);
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->has_value());
}

// Expected values below were captured from Celery 5.2.6 by running
// Signature.apply_async((3,), chain=..., parent_id='P', root_id='ROOT',
// priority=None) against the memory transport.
TEST_CASE("a chain step honours queue, priority, countdown and kwargs in its options") {
  task_message first = parent_with(nullptr);
  json::array chain{
      to_json(sig("wireapp.mul", {2}, {{"task_id", "T3"}, {"reply_to", "R"}})),
      to_json(sig("wireapp.mul", {10},
                  {{"task_id", "T2"}, {"reply_to", "R"}, {"queue", "csv"}, {"priority", 5}, {"countdown", 3}})),
  };
  chain[1].set("kwargs", json::object{{"z", 1}});
  first.embed.chain = chain;
  const auto now = *util::parse_iso8601("2026-11-22T03:07:55.909295+00:00");
  auto next = next_chain_message(first, 3, {.origin = "gen1@host", .now = now});
  REQUIRE(next.has_value());
  REQUIRE(next->has_value());
  const task_message& m = **next;
  CHECK(m.headers.id == "T2");
  CHECK(m.headers.eta == "2026-11-22T03:07:58.909295+00:00");
  CHECK(m.headers.root_id == "ROOT");
  CHECK(m.headers.parent_id == "P");
  CHECK(m.headers.argsrepr == "(3, 10)");
  CHECK(m.headers.kwargsrepr == "{'z': 1}");
  CHECK(m.properties.reply_to == "R");
  CHECK(m.properties.delivery_info.routing_key == "csv");
  CHECK(m.properties.priority == 5);
  CHECK(m.properties.extra.empty());
  CHECK(m.embed.chain == json::value(json::array{chain[0]}));
}

TEST_CASE("callbacks: one alone, several as a group; immutable ones keep their args") {
  SUBCASE("single mutable callback") {
    auto parent = parent_with(json::array{to_json(sig("wireapp.cb", {1}))});
    auto msgs = callback_messages(parent, 3);
    REQUIRE(msgs.has_value());
    REQUIRE(msgs->size() == 1);
    const auto& m = msgs->front();
    CHECK(m.args == json::array{3, 1});
    CHECK(m.headers.argsrepr == "(3, 1)");
    CHECK_FALSE(m.headers.group);
    CHECK(m.headers.parent_id == "P");
    CHECK(m.headers.root_id == "ROOT");
    CHECK(util::is_uuid(m.headers.id));
  }
  SUBCASE("single immutable callback: args as given, list-form argsrepr") {
    auto m = callback_message(sig("wireapp.cb", {1}, {}, true), 3, parent_with(nullptr));
    REQUIRE(m.has_value());
    CHECK(m->args == json::array{1});
    CHECK(m->headers.argsrepr == "[1]");
    CHECK(m->headers.parent_id == "P");
    CHECK(m->headers.root_id == "ROOT");
    CHECK(m->properties.delivery_info.routing_key == "celery");
    CHECK(m->properties.priority == 0);
  }
  SUBCASE("several callbacks share a new group id, group_index null") {
    auto parent = parent_with(
        json::array{to_json(sig("wireapp.cb", {1})), to_json(sig("wireapp.cb2", {}, {{"task_id", "FIXED"}}))});
    auto msgs = callback_messages(parent, 3);
    REQUIRE(msgs.has_value());
    REQUIRE(msgs->size() == 2);
    const auto& a = (*msgs)[0];
    const auto& b = (*msgs)[1];
    REQUIRE(a.headers.group);
    CHECK(util::is_uuid(*a.headers.group));
    CHECK(b.headers.group == a.headers.group);
    CHECK_FALSE(a.headers.group_index);
    CHECK(a.headers.argsrepr == "(3, 1)");
    CHECK(b.headers.id == "FIXED");
    CHECK(b.properties.correlation_id == "FIXED");
    CHECK(b.args == json::array{3});
    CHECK(b.headers.argsrepr == "(3,)");
  }
  SUBCASE("no callbacks") {
    auto msgs = callback_messages(parent_with(nullptr), 3);
    REQUIRE(msgs.has_value());
    CHECK(msgs->empty());
  }
}

// Celery 5.2 _call_task_errbacks: group(errbacks).apply_async((task_id,),
// parent_id=task_id, root_id=root_id); captured output: group set to a new
// id, group_index null, argsrepr "('tid-1',)".
TEST_CASE("errbacks receive the failed task's id and go out as one group") {
  auto failed = parent_with(nullptr, json::array{to_json(sig("wireapp.err", {})),
                                                 to_json(sig("wireapp.err2", {"extra"}, {}, false))});
  auto msgs = errback_messages(failed);
  REQUIRE(msgs.has_value());
  REQUIRE(msgs->size() == 2);
  const auto& a = (*msgs)[0];
  const auto& b = (*msgs)[1];
  CHECK(a.headers.task == "wireapp.err");
  CHECK(a.args == json::array{"P"});
  CHECK(a.headers.argsrepr == "('P',)");
  CHECK(a.headers.parent_id == "P");
  CHECK(a.headers.root_id == "ROOT");
  REQUIRE(a.headers.group);
  CHECK(b.headers.group == a.headers.group);
  CHECK_FALSE(a.headers.group_index);
  CHECK(b.args == json::array{"P", "extra"});

  auto one = errback_message(sig("wireapp.err", {}, {}, true), failed, "G");
  REQUIRE(one.has_value());
  CHECK(one->args.empty());
  CHECK(one->headers.group == "G");

  auto none = errback_messages(parent_with(nullptr));
  REQUIRE(none.has_value());
  CHECK(none->empty());
}

TEST_CASE("chord_callback_message reproduces the worker's chord body byte for byte") {
  // chord_header_completing_message.json is add(2, 2), group_index 1, whose
  // completion made the worker publish chord_callback_message.json.
  auto completing = decode_fixture("chord_header_completing_message.json");
  const std::string expected = wire_fixture("chord_callback_message.json");
  auto captured = decode_message(expected);
  REQUIRE(captured);
  auto body = decode_signature(completing.embed.chord);
  REQUIRE(body);
  auto m = chord_callback_message(*body, json::array{2, 4}, completing, {.origin = captured->headers.origin});
  REQUIRE(m.has_value());
  CHECK(m->headers.argsrepr == "([2, 4],)");
  m->properties.delivery_tag = captured->properties.delivery_tag;
  CHECK(encode_message(*m) == expected);
}

TEST_CASE("retry_message reproduces Task.retry's message byte for byte") {
  auto original = decode_fixture("retry_original.json");
  const std::string expected = wire_fixture("retry_message.json");
  auto captured = decode_message(expected);
  REQUIRE(captured);
  // retry(countdown=1): the sample's eta is publish time + 1 s.
  const auto now = *captured->eta_time() - 1s;
  auto m = retry_message(original, {.countdown = 1}, {.origin = captured->headers.origin, .now = now});
  CHECK(m.headers.id == original.headers.id);
  CHECK(m.headers.retries == 1);
  CHECK(m.headers.parent_id == original.headers.id);
  CHECK(m.headers.argsrepr == "()");
  REQUIRE(property(m, "origin"));
  CHECK(*property(m, "origin") == json::value(original.headers.origin));
  m.properties.delivery_tag = captured->properties.delivery_tag;
  CHECK(encode_message(m) == expected);
}

TEST_CASE("retry_message keeps what the request carries") {
  message_options o;
  o.task_id = "T";
  o.parent_id = "PARENT";
  o.root_id = "ROOT";
  o.group = "G";
  o.group_index = 2;
  o.priority = 6;
  o.queue = "csv";
  o.time_limit = 30;
  o.expires_at = *util::parse_iso8601("2026-11-22T03:00:00.5+00:00");
  o.now = *util::parse_iso8601("2026-11-22T02:00:00+00:00");
  o.headers = {{"x-custom", "v"}};
  o.link = {sig("wireapp.cb", {})};
  auto current = make_task_message("wireapp.flaky", {7}, {{"k", "v"}}, o);
  current.headers.retries = 2;

  auto m = retry_message(current, {}, {.now = *util::parse_iso8601("2026-11-22T02:10:00+00:00")});
  CHECK(m.headers.retries == 3);
  CHECK(m.headers.eta == "2026-11-22T02:13:00+00:00");  // default_retry_delay 180 s
  CHECK(m.headers.parent_id == "PARENT");  // set, so kept (Celery only fills a missing one)
  CHECK(m.headers.root_id == "ROOT");
  CHECK(m.headers.group == "G");
  CHECK(m.headers.group_index == 2);
  CHECK(m.headers.expires == current.headers.expires);
  CHECK(m.properties.expiration == "3000500");
  CHECK(m.headers.timelimit[0] == json::value(30));
  CHECK(m.headers.extra.empty());  // custom headers are not carried
  CHECK(m.properties.priority == 6);
  CHECK(m.properties.delivery_info.routing_key == "csv");
  CHECK(m.headers.argsrepr == "(7,)");
  CHECK(m.embed.callbacks == current.embed.callbacks);
  CHECK(m.args == json::array{7});

  auto with_eta = retry_message(current, {.eta = *util::parse_iso8601("2026-12-01T00:00:00+00:00"),
                                          .args = json::array{8}});
  CHECK(with_eta.headers.eta == "2026-12-01T00:00:00+00:00");
  CHECK(with_eta.args == json::array{8});
  CHECK(with_eta.headers.argsrepr == "(8,)");
}

TEST_CASE("signature options: unknown ones become properties, consumed ones vanish") {
  auto s = sig("t", {}, {{"exchange", "ex"}, {"serializer", "json"}, {"replaced_task_nesting", 1},
                         {"custom", "c"}, {"headers", json::object{{"h", 1}}}, {"shadow", "sh"},
                         {"time_limit", 5}, {"expires", 10}, {"link", to_json(sig("cb", {}))},
                         {"routing_key", "rk"}, {"ignore_result", true}, {"delivery_mode", 1}});
  auto m = callback_message(s, 1, parent_with(nullptr), {.now = *util::parse_iso8601("2026-01-01T00:00:00")});
  REQUIRE(m.has_value());
  REQUIRE(m->properties.extra.size() == 2);
  CHECK(m->properties.extra[0].first == "replaced_task_nesting");
  CHECK(m->properties.extra[1].first == "custom");
  CHECK(m->headers.extra == json::object{{"h", 1}});
  CHECK(m->headers.shadow == "sh");
  CHECK(m->time_limit() == 5.0);
  CHECK(m->headers.expires == "2026-01-01T00:00:10+00:00");
  CHECK(m->properties.expiration == "10000");
  CHECK(m->embed.callbacks.is_array());  // a single link is wrapped in a list
  CHECK(m->properties.delivery_info.routing_key == "rk");
  CHECK(m->headers.ignore_result);
  CHECK(m->properties.delivery_mode == 1);
}

TEST_CASE("canvas errors instead of guesses") {
  auto parent = parent_with(nullptr);
  SUBCASE("group/chain/chord signatures are not applied") {
    signature g = sig("celery.group", {});
    g.subtask_type = "group";
    auto m = callback_message(g, 1, parent);
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().message.find("group") != std::string::npos);
  }
  SUBCASE("options of the wrong type") {
    CHECK_FALSE(callback_message(sig("t", {}, {{"countdown", "soon"}}), 1, parent).has_value());
    CHECK_FALSE(callback_message(sig("t", {}, {{"eta", "tomorrow"}}), 1, parent).has_value());
    CHECK_FALSE(callback_message(sig("t", {}, {{"priority", "high"}}), 1, parent).has_value());
    CHECK_FALSE(callback_message(sig("t", {}, {{"link", json::array{1}}}), 1, parent).has_value());
  }
  SUBCASE("a malformed chain step") {
    parent.embed.chain = json::array{json::object{{"args", json::array{}}}};
    auto next = next_chain_message(parent, 1);
    REQUIRE_FALSE(next.has_value());
    CHECK(next.error().message.find("chain") != std::string::npos);
  }
  SUBCASE("a malformed callback") {
    parent.embed.callbacks = json::array{json::object{{"task", 5}}};
    CHECK_FALSE(callback_messages(parent, 1).has_value());
  }
}
