#include <doctest/doctest.h>

#include <fmt/format.h>

#include "celery/message_codec.hpp"
#include "celery/result_meta.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;

namespace {

constexpr std::string_view meta_samples[] = {
    "result_meta_success.json",         "result_meta_failure.json",      "result_meta_retry.json",
    "result_meta_revoked.json",         "result_meta_after_retry.json",  "result_meta_acks_late.json",
    "result_meta_chain_first.json",     "result_meta_chain_last.json",   "result_meta_chord_body.json",
    "result_meta_chord_header_member.json", "result_meta_group_member.json",
};

result_meta decode_fixture(std::string_view name) {
  auto m = decode_result_meta(wire_fixture(name));
  REQUIRE_MESSAGE(m.has_value(), name << ": " << m.error());
  return std::move(*m);
}

// The stored meta's date_done, so helpers can be compared byte for byte.
meta_context at_date_of(const result_meta& sample) {
  meta_context ctx;
  ctx.date_done = util::parse_iso8601(sample.date_done.value_or("2000-01-01T00:00:00"));
  return ctx;
}

}  // namespace

TEST_CASE("states") {
  CHECK(state_name(task_state::pending) == "PENDING");
  CHECK(state_name(task_state::received) == "RECEIVED");
  CHECK(state_name(task_state::started) == "STARTED");
  CHECK(state_name(task_state::success) == "SUCCESS");
  CHECK(state_name(task_state::failure) == "FAILURE");
  CHECK(state_name(task_state::retry) == "RETRY");
  CHECK(state_name(task_state::revoked) == "REVOKED");
  for (auto s : {task_state::pending, task_state::received, task_state::started, task_state::success,
                 task_state::failure, task_state::retry, task_state::revoked})
    CHECK(parse_state(state_name(s)) == s);
  CHECK_FALSE(parse_state("PROGRESS"));
  CHECK_FALSE(parse_state("success"));
  CHECK(is_ready(task_state::success));
  CHECK(is_ready(task_state::failure));
  CHECK(is_ready(task_state::revoked));
  CHECK_FALSE(is_ready(task_state::pending));
  CHECK_FALSE(is_ready(task_state::received));
  CHECK_FALSE(is_ready(task_state::started));
  CHECK_FALSE(is_ready(task_state::retry));
}

TEST_CASE("every captured result meta decodes and re-encodes to the exact bytes") {
  for (auto name : meta_samples) {
    CAPTURE(name);
    const std::string original = wire_fixture(name);
    auto m = decode_result_meta(original);
    REQUIRE_MESSAGE(m.has_value(), m.error());
    CHECK(encode_result_meta(*m) == original);
  }
}

TEST_CASE("helpers produce Celery's result meta byte for byte") {
  SUBCASE("success") {
    auto sample = decode_fixture("result_meta_success.json");
    CHECK(sample.state() == task_state::success);
    CHECK(encode_result_meta(success_meta(sample.task_id, 5, at_date_of(sample))) ==
          wire_fixture("result_meta_success.json"));
  }
  SUBCASE("failure") {
    auto sample = decode_fixture("result_meta_failure.json");
    REQUIRE(sample.traceback.is_string());
    auto m = failure_meta(sample.task_id, "ValueError", "boom", "builtins", sample.traceback.as_string(),
                          at_date_of(sample));
    CHECK(encode_result_meta(m) == wire_fixture("result_meta_failure.json"));
    CHECK(json::dump(m.result) == R"({"exc_type": "ValueError", "exc_message": ["boom"], "exc_module": "builtins"})");
  }
  SUBCASE("revoked") {
    auto sample = decode_fixture("result_meta_revoked.json");
    CHECK(encode_result_meta(revoked_meta(sample.task_id, "revoked", at_date_of(sample))) ==
          wire_fixture("result_meta_revoked.json"));
  }
  SUBCASE("retry: no date_done, the retry message as a child") {
    auto sample = decode_fixture("result_meta_retry.json");
    CHECK_FALSE(sample.date_done);
    meta_context ctx;
    ctx.children.push_back(child_result(sample.task_id));
    auto m = retry_meta(sample.task_id, nullptr, sample.traceback.as_string(), ctx);
    CHECK_FALSE(m.date_done);
    CHECK(encode_result_meta(m) == wire_fixture("result_meta_retry.json"));
  }
  SUBCASE("parent_id after a retry and on chain/chord steps") {
    for (auto name : {"result_meta_after_retry.json", "result_meta_chain_last.json", "result_meta_chord_body.json"}) {
      CAPTURE(name);
      auto sample = decode_fixture(name);
      REQUIRE(sample.parent_id);
      meta_context ctx = at_date_of(sample);
      ctx.parent_id = sample.parent_id;
      CHECK(encode_result_meta(success_meta(sample.task_id, sample.result, ctx)) == wire_fixture(name));
    }
  }
  SUBCASE("group_id for group and chord members") {
    for (auto name : {"result_meta_group_member.json", "result_meta_chord_header_member.json"}) {
      CAPTURE(name);
      auto sample = decode_fixture(name);
      REQUIRE(sample.group_id);
      meta_context ctx = at_date_of(sample);
      ctx.group_id = sample.group_id;
      CHECK(encode_result_meta(success_meta(sample.task_id, sample.result, ctx)) == wire_fixture(name));
    }
  }
  SUBCASE("a chain's first task lists the next step as its child") {
    auto sample = decode_fixture("result_meta_chain_first.json");
    meta_context ctx = at_date_of(sample);
    ctx.children.push_back(child_result("5f827ff1-2659-4585-b8d5-c272cbc9b582"));
    CHECK(encode_result_meta(success_meta(sample.task_id, 3, ctx)) == wire_fixture("result_meta_chain_first.json"));
  }
}

TEST_CASE("meta_context_for takes group and parent from the message") {
  auto chord_member = decode_message(wire_fixture("chord_header_completing_message.json"));
  REQUIRE(chord_member);
  auto ctx = meta_context_for(*chord_member);
  CHECK(ctx.group_id == "3b7c13a8-607c-41d4-9196-c004b13a7cc3");
  CHECK_FALSE(ctx.parent_id);

  auto step = decode_message(wire_fixture("chain_next_message.json"));
  REQUIRE(step);
  ctx = meta_context_for(*step);
  CHECK_FALSE(ctx.group_id);
  CHECK(ctx.parent_id == "68b5fed9-0353-4f0f-8aad-ea4e396e9367");

  task_message empty_group = *step;
  empty_group.headers.group = "";
  CHECK_FALSE(meta_context_for(empty_group).group_id);  // Celery tests truthiness
}

TEST_CASE("date_done defaults to now, in naive ISO form") {
  auto m = success_meta("t", 1);
  REQUIRE(m.date_done);
  CHECK(m.date_done->find('+') == std::string::npos);
  auto parsed = util::parse_iso8601(*m.date_done);
  REQUIRE(parsed);
  CHECK(std::chrono::abs(*parsed - util::wall_now()) < std::chrono::seconds(5));
}

TEST_CASE("custom states and result_extended fields survive decoding") {
  const std::string text =
      R"({"status": "PROGRESS", "result": {"done": 3}, "traceback": null, "children": [], "date_done": null,)"
      R"( "name": "t", "args": [1], "task_id": "x"})";
  auto m = decode_result_meta(text);
  REQUIRE(m.has_value());
  CHECK_FALSE(m->state());
  CHECK(m->status == "PROGRESS");
  REQUIRE(m->extra.size() == 2);
  CHECK(encode_result_meta(*m) == text);
}

TEST_CASE("decode_result_meta refuses only what Celery's client cannot read") {
  auto refused = [](std::string_view text, std::string_view says) {
    auto e = decode_result_meta(text);
    REQUIRE_FALSE(e.has_value());
    CHECK_MESSAGE(e.error().message.find(says) != std::string::npos, e.error().message);
  };
  refused("", "not JSON");
  refused("{\"status\": ", "not JSON");
  refused("[]", "[], not a JSON object");
  refused("42", "42, not a JSON object");
  refused(R"({"task_id": "x"})", "'status' = <missing>");
  refused(R"({"status": 1, "task_id": "x"})", "'status' = 1");
  refused(R"({"status": null})", "'status' = null");
  // A long value is cut in the message.
  auto e = decode_result_meta(R"({"status": [")" + std::string(500, 'a') + R"("]})");
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().message.size() < 200);
}

// The odd forms other writers store, each read as Celery's client reads it.
TEST_CASE("decode_result_meta reads results as liberally as Celery's client") {
  SUBCASE("celery-node's worker: traceback = the result, date_done in Z form") {
    auto m = decode_result_meta(
        R"({"status":"SUCCESS","result":42,"traceback":42,"children":[],)"
        R"("task_id":"9f1c","date_done":"2026-11-22T01:49:37.421Z"})");
    REQUIRE_MESSAGE(m.has_value(), m.error());
    CHECK(m->state() == task_state::success);
    CHECK(m->result == json::value(42));
    CHECK(m->traceback == json::value(42));
    CHECK(m->task_id == "9f1c");
    CHECK(m->done_at() == util::parse_iso8601("2026-11-22T01:49:37.421+00:00"));
  }
  SUBCASE("celery-node's worker on a failure: result null, the error as traceback") {
    auto m = decode_result_meta(
        R"({"status":"FAILURE","result":null,"traceback":{},"children":[],"task_id":"x",)"
        R"("date_done":"2026-11-22T01:49:37.421Z"})");
    REQUIRE_MESSAGE(m.has_value(), m.error());
    CHECK(m->state() == task_state::failure);
    CHECK(m->result.is_null());
    CHECK(m->traceback.is_object());
  }
  SUBCASE("any JSON traceback") {
    for (std::string_view tb : {"null", "42", "\"text\"", "[\"a\", 1]", "{\"stack\": \"x\"}", "true", "1.5"}) {
      CAPTURE(tb);
      auto m = decode_result_meta(fmt::format(R"({{"status": "SUCCESS", "traceback": {}, "task_id": "x"}})", tb));
      REQUIRE_MESSAGE(m.has_value(), m.error());
      CHECK(json::dump(m->traceback) == json::dump(*json::parse(tb)));
    }
  }
  SUBCASE("date_done with Z, +00:00, another offset or no zone is the same kind of time") {
    auto at = [](std::string_view date) {
      auto m = decode_result_meta(fmt::format(R"({{"status": "SUCCESS", "date_done": "{}"}})", date));
      REQUIRE_MESSAGE(m.has_value(), m.error());
      return m->done_at();
    };
    auto naive = at("2026-11-22T01:49:37.421657");
    REQUIRE(naive);
    CHECK(at("2026-11-22T01:49:37.421657Z") == naive);
    CHECK(at("2026-11-22T01:49:37.421657+00:00") == naive);
    CHECK(at("2026-11-22T02:49:37.421657+01:00") == naive);
    CHECK(at("2026-11-22 01:49:37.421657") == naive);
    // Kept as written even when it is no date: only done_at() says so.
    CHECK_FALSE(at("yesterday"));
  }
  SUBCASE("only status: every other field missing") {
    auto m = decode_result_meta(R"({"status": "SUCCESS"})");
    REQUIRE_MESSAGE(m.has_value(), m.error());
    CHECK(m->task_id.empty());
    CHECK(m->result.is_null());
    CHECK(m->traceback.is_null());
    CHECK_FALSE(m->date_done);
    CHECK_FALSE(m->done_at());
    CHECK(m->extra.empty());
  }
  SUBCASE("fields of unexpected types read as absent or are kept as they are") {
    auto m = decode_result_meta(
        R"({"status": "REVOKED", "children": 5, "date_done": 1700000000, "group_id": 3, "parent_id": [],)"
        R"( "task_id": 7})");
    REQUIRE_MESSAGE(m.has_value(), m.error());
    CHECK(m->children == json::value(5));
    CHECK_FALSE(m->date_done);
    CHECK_FALSE(m->group_id);
    CHECK_FALSE(m->parent_id);
    CHECK(m->task_id.empty());
  }
  SUBCASE("unknown fields are kept, in order") {
    auto m = decode_result_meta(R"({"status": "SUCCESS", "worker": "node-1", "lang": "js", "result": 1})");
    REQUIRE_MESSAGE(m.has_value(), m.error());
    REQUIRE(m->extra.size() == 2);
    CHECK(m->extra[0].first == "worker");
    CHECK(m->extra[1].first == "lang");
  }
}

TEST_CASE("failure_summary reads the failure as exception_to_python does") {
  auto summary = [](std::string_view text) {
    auto m = decode_result_meta(text);
    REQUIRE_MESSAGE(m.has_value(), m.error());
    return failure_summary(*m);
  };
  CHECK(failure_summary(decode_fixture("result_meta_failure.json")) == "ValueError: boom");
  CHECK(failure_summary(revoked_meta("x", "terminated")) == "TaskRevokedError: terminated");
  CHECK(summary(R"({"status": "FAILURE", "result": {"exc_type": "SoftTimeLimitExceeded", "exc_message": []}})") ==
        "SoftTimeLimitExceeded");
  // exc_message as a bare value (Celery < 4), a number, missing exc_module.
  CHECK(summary(R"({"status": "FAILURE", "result": {"exc_type": "KeyError", "exc_message": "k"}})") ==
        "KeyError: k");
  CHECK(summary(R"({"status": "FAILURE", "result": {"exc_type": "E", "exc_message": [3, "x"]}})") == "E: 3");
  CHECK(summary(R"({"status": "FAILURE", "result": {"exc_type": "E"}})") == "E");
  // celery-node: result null; a thrown Error serializes as {}, a thrown string as itself.
  CHECK(summary(R"({"status": "FAILURE", "result": null, "traceback": {}})") == "FAILURE");
  CHECK(summary(R"({"status": "FAILURE", "result": null, "traceback": "boom"})") == "FAILURE: boom");
  CHECK(summary(R"({"status": "FAILURE", "result": null, "traceback": {"code": 7}})") ==
        R"(FAILURE: {"code": 7})");
  // A traceback's last line; else the result itself.
  CHECK(summary(R"({"status": "FAILURE", "traceback": "Traceback:\n  x\nValueError: v\n"})") ==
        "FAILURE: ValueError: v");
  CHECK(summary(R"({"status": "FAILURE", "result": "went wrong"})") == "FAILURE: went wrong");
  CHECK(summary(R"({"status": "REVOKED"})") == "REVOKED");
}

TEST_CASE("chord join members") {
  CHECK(chord_join_member("d77e18f2-2a1f-4a70-af68-c9584c5537c7", "SUCCESS", 2) ==
        wire_fixture("chord_join_member_0.json"));
  auto member1 = json::parse(wire_fixture("chord_join_member_1.json"));
  REQUIRE(member1);
  const auto& parts = member1->as_array();
  CHECK(chord_join_member(parts[1].as_string(), parts[2].as_string(), parts[3]) ==
        wire_fixture("chord_join_member_1.json"));
}
