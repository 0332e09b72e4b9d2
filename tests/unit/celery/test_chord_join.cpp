// The pure parts of a chord's join (lib/celery/chord_join.hpp).

#include <doctest/doctest.h>

#include "celery/chord_join.hpp"
#include "celery/message_builder.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;

TEST_CASE("chord keys are Celery's") {
  auto k = chord_keys_for("G");
  CHECK(k.join == "celery-taskset-meta-G.j");
  CHECK(k.extra == "celery-taskset-meta-G.t");
  CHECK(k.size == "celery-taskset-meta-G.s");
  CHECK(k.saved == "celery-taskset-meta-G");
}

TEST_CASE("a header member's part: member bytes, score and prefix") {
  message_options o;
  o.task_id = "d77e18f2-2a1f-4a70-af68-c9584c5537c7";
  o.group = "G";
  o.group_index = 0;
  auto m = make_task_message("celeriac.add", {1, 1}, {}, o);
  CHECK_FALSE(chord_part_of(m, "SUCCESS", 2));  // no chord body: a plain group member
  m.embed.chord = *json::parse(R"({"task": "celeriac.echo", "args": [], "kwargs": {}, "options": {}})");
  auto part = chord_part_of(m, "SUCCESS", 2);
  REQUIRE(part);
  CHECK(part->member() == wire_fixture("chord_join_member_0.json"));
  CHECK(part->score() == "0");
  CHECK(part->member().starts_with(part->member_prefix()));
  CHECK(part->member_prefix() == "[1, \"d77e18f2-2a1f-4a70-af68-c9584c5537c7\", ");
  part->group_index.reset();
  CHECK(part->score() == "+inf");
  m.headers.group.reset();
  CHECK_FALSE(chord_part_of(m, "SUCCESS", 2));
}

TEST_CASE("the join gives results in member order, or the first failure") {
  auto outcome = chord_outcome_of({wire_fixture("chord_join_member_0.json"), wire_fixture("chord_join_member_1.json")});
  REQUIRE(std::holds_alternative<json::array>(outcome));
  CHECK(std::get<json::array>(outcome) == json::array{2, 4});

  const std::string failed = chord_join_member(
      "B", "FAILURE", *json::parse(R"({"exc_type": "ValueError", "exc_message": ["no 'x'"], "exc_module": "builtins"})"));
  const std::string revoked = chord_join_member(
      "C", "REVOKED",
      *json::parse(R"({"exc_type": "TaskRevokedError", "exc_message": ["revoked"], "exc_module": "celery.exceptions"})"));
  outcome = chord_outcome_of({chord_join_member("A", "SUCCESS", 1), failed, revoked});
  REQUIRE(std::holds_alternative<chord_failed>(outcome));
  CHECK(std::get<chord_failed>(outcome).message == "Dependency B raised ValueError(\"no 'x'\")");
  outcome = chord_outcome_of({revoked});
  CHECK(std::get<chord_failed>(outcome).message == "Dependency C raised TaskRevokedError('revoked')");
  outcome = chord_outcome_of({"[1, \"A\"]"});
  CHECK(std::get<chord_failed>(outcome).message.starts_with("Join error: ValueError("));
  CHECK(std::get<json::array>(chord_outcome_of({})).empty());
}

TEST_CASE("exception_repr is Python's repr of the rebuilt exception") {
  auto repr = [](std::string_view text) { return exception_repr(*json::parse(text)); };
  CHECK(repr(R"({"exc_type": "RuntimeError", "exc_message": ["boom"], "exc_module": "builtins"})") ==
        "RuntimeError('boom')");
  CHECK(repr(R"({"exc_type": "ValueError", "exc_message": [], "exc_module": "builtins"})") == "ValueError()");
  CHECK(repr(R"({"exc_type": "KeyError", "exc_message": ["a", 2], "exc_module": "builtins"})") ==
        "KeyError('a', 2)");
  CHECK(repr(R"({"exc_type": "TimeLimitExceeded", "exc_message": [5.0], "exc_module": "billiard.exceptions"})") ==
        "TimeLimitExceeded(5.0)");
  CHECK(repr(R"({"exc_type": "Oops", "exc_message": "plain text", "exc_module": "app.errors"})") ==
        "Oops('plain text')");
  CHECK(repr(R"({"exc_type": "NotRegistered", "exc_message": ["x.y"], "exc_module": "celery.exceptions"})") ==
        "Task of kind 'x.y' never registered, please make sure it's imported.");
  CHECK(exception_repr(json::value(7)) == "7");
}

TEST_CASE("a saved GroupResult is joined by structure") {
  // Celery 5.2.6's save of chord([add.s(1, 1) | group(add.s(1), add.s(2)), add.s(5, 5)], ...)
  const std::string saved =
      R"({"result": [["G", null], [[["G", [["F", null], null]], [[["A", null], null], [["B", null], null]]], )"
      R"([["C", null], null]]]})";
  auto ids = saved_group_task_ids(saved);
  REQUIRE(ids.has_value());
  CHECK(*ids == std::vector<std::string>{"A", "B", "C"});
  auto meta = [](std::string id, json::value result) {
    return std::optional<std::string>(encode_result_meta(success_meta(std::move(id), std::move(result))));
  };
  auto outcome = saved_group_outcome(saved, {meta("A", 3), meta("B", 4), meta("C", 10)});
  REQUIRE(std::holds_alternative<json::array>(outcome));
  CHECK(json::value(std::get<json::array>(outcome)) == *json::parse("[[3, 4], 10]"));

  outcome = saved_group_outcome(saved, {meta("A", 3), std::nullopt, meta("C", 10)});
  CHECK(std::get<chord_failed>(outcome).message == "Join error: TimeoutError('The operation timed out.')");
  auto failed = encode_result_meta(failure_meta("B", "RuntimeError", "boom"));
  outcome = saved_group_outcome(saved, {meta("A", 3), failed, meta("C", 10)});
  CHECK(std::get<chord_failed>(outcome).message == "Join error: RuntimeError('boom')");
  CHECK_FALSE(saved_group_task_ids("{\"result\": 1}").has_value());
  CHECK_FALSE(saved_group_task_ids("nope").has_value());
}

TEST_CASE("a body that cannot be applied fails the chord with a Callback error") {
  auto done = complete_chord(*json::parse(R"({"task": "m", "options": {"task_id": "BODY"}, "subtask_type": "xmap"})"),
                             json::array{1}, current_task{"P", "P"});
  REQUIRE(done.error);
  CHECK(done.error->starts_with("Callback error: RuntimeError("));
  REQUIRE(done.failures.size() == 1);
  CHECK(done.failures[0].task_id == "BODY");
  CHECK(done.publication.empty());
}

TEST_CASE("result ids of a body: a chain's steps, a group's members") {
  auto ids = result_ids_of(*json::parse(
      R"({"task": "celery.chain", "kwargs": {"tasks": [{"task": "a", "options": {"task_id": "A"}},)"
      R"( {"task": "celery.group", "options": {"task_id": "G"}, "subtask_type": "group", "kwargs": {"tasks": [)"
      R"({"task": "b", "options": {"task_id": "B"}}]}}]}, "options": {}, "subtask_type": "chain"})"));
  CHECK(ids == std::vector<std::string>{"A", "G", "B"});
}
