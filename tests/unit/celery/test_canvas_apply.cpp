// Groups, chains and chords applied inside a worker, against what a Celery
// 5.2.6 worker published for the same messages (canvas_worker_*.json, made
// by tests/fixtures/celery-wire/canvas_worker.gen.py).

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "celery/canvas_apply.hpp"
#include "celery/chord_join.hpp"
#include "celery/message_codec.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "unit/celery/canvas_capture.hpp"
#include "unit/celery/fixtures.hpp"
#include "util/uuid.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::canvas_capture;
using celeriac::test::comparable;
using celeriac::test::wire_fixture;

namespace {

json::value published_document(const canvas_capture& cap) {
  json::array sizes;
  for (const auto& w : cap.taskset_writes) sizes.push_back(w);
  return json::object{{"messages", cap.published}, {"taskset_writes", std::move(sizes)}};
}

json::value our_document(const canvas_publication& p) {
  json::array messages;
  for (const auto& m : p.messages) messages.push_back(test::summary(m));
  json::array writes;
  for (const auto& g : p.saved_groups)
    writes.push_back(json::array{fmt::format("celery-taskset-meta-{}", g.group_id), g.value});
  for (const auto& s : p.chord_sizes)
    writes.push_back(json::array{fmt::format("celery-taskset-meta-{}.s", s.group_id), std::to_string(s.size)});
  return json::object{{"messages", std::move(messages)}, {"taskset_writes", std::move(writes)}};
}

void check_same(const json::value& ours, const json::value& celerys) {
  const std::string a = json::dump(comparable(ours));
  const std::string b = json::dump(comparable(celerys));
  INFO("celeriac: " << a);
  INFO("celery:   " << b);
  CHECK(a == b);
}

}  // namespace

TEST_CASE("next_chain_publication of a task step is next_chain_message, byte for byte") {
  auto first = decode_message(wire_fixture("chain_first_message.json"));
  auto captured = decode_message(wire_fixture("chain_next_message.json"));
  REQUIRE(first);
  REQUIRE(captured);
  auto p = next_chain_publication(*first, 3, {.origin = captured->headers.origin});
  REQUIRE_MESSAGE(p.has_value(), p.error());
  REQUIRE(p->messages.size() == 1);
  p->messages[0].properties.delivery_tag = captured->properties.delivery_tag;
  CHECK(encode_message(p->messages[0]) == wire_fixture("chain_next_message.json"));
  CHECK(p->chord_sizes.empty());

  auto done = next_chain_publication(*captured, 30);
  REQUIRE(done.has_value());
  CHECK(done->empty());
}

TEST_CASE("a worker applies a group or chord chain step as Celery's worker does") {
  for (const char* shape : {"group_in_chain", "nested_group_in_chain", "chord_in_chain", "chord_in_chain_chain_body",
                            "chord_in_chain_chain_header", "chord_in_chain_nested", "empty_chord_in_chain"}) {
    CAPTURE(shape);
    const canvas_capture cap = canvas_capture::load(shape);
    REQUIRE(cap.consumed.size() == 1);
    const task_message& first = cap.consumed[0];
    auto p = next_chain_publication(first, cap.result_of(first.headers.id));
    REQUIRE_MESSAGE(p.has_value(), p.error());
    // What the first task's result lists as its children, too.
    json::value ours = our_document(*p);
    ours.set("children", p->trail);
    json::value celerys = published_document(cap);
    celerys.set("children", cap.meta_of(first.headers.id).children);
    check_same(ours, celerys);
  }
}

TEST_CASE("a completed chord sends a chain or group body as Celery's worker does") {
  for (const char* shape : {"chord_chain_body", "chord_group_body"}) {
    CAPTURE(shape);
    const canvas_capture cap = canvas_capture::load(shape);
    REQUIRE(cap.consumed.size() == 2);
    json::array results;
    for (const auto& m : cap.consumed) results.push_back(cap.result_of(m.headers.id));
    const task_message& completing = cap.consumed.back();
    auto done = complete_chord(completing.embed.chord, results,
                               current_task{completing.headers.id, completing.root_id_or_id()});
    CHECK_FALSE(done.error);
    CHECK(done.failures.empty());
    json::value celerys = published_document(cap);
    celerys.set("taskset_writes", json::array{});  // the header's size, set by the client
    check_same(our_document(done.publication), celerys);
  }
}

TEST_CASE("a failed header member fails the body with Celery's ChordError") {
  const canvas_capture cap = canvas_capture::load("chord_failure_errback");
  std::vector<std::string> members;
  for (const auto& m : cap.consumed) {
    auto meta = cap.meta_of(m.headers.id);
    members.push_back(chord_join_member(m.headers.id, meta.status, meta.result));
  }
  auto outcome = chord_outcome_of(members);
  REQUIRE(std::holds_alternative<chord_failed>(outcome));
  const task_message& completing = cap.consumed.back();
  auto done = complete_chord(completing.embed.chord, outcome,
                             current_task{completing.headers.id, completing.root_id_or_id()});
  const std::string body_id = completing.embed.chord.find("options")->find("task_id")->as_string();
  const result_meta celerys = cap.meta_of(body_id);
  REQUIRE(done.failures.size() == 1);
  CHECK(done.failures[0].task_id == body_id);
  CHECK(done.failures[0].status == "FAILURE");
  CHECK(done.failures[0].result == celerys.result);
  CHECK_FALSE(done.failures[0].group_id);
  CHECK_FALSE(done.failures[0].parent_id);
  CHECK(done.error == celerys.result.find("exc_message")->as_array()[0].as_string());
  // Celery calls an errback whose task takes *args in-process; celeriac
  // always sends errbacks as messages: echo.si('errback') with the body id
  // as parent and root.
  REQUIRE(done.publication.messages.size() == 1);
  const task_message& eb = done.publication.messages[0];
  CHECK(eb.headers.task == "celeriac.echo");
  CHECK(eb.args == json::array{"errback"});
  CHECK(eb.headers.parent_id == body_id);
  CHECK(eb.headers.root_id == body_id);
  CHECK(eb.headers.group);
}

TEST_CASE("a failed chain inside a chord header fails its later steps and the chord") {
  const canvas_capture cap = canvas_capture::load("chord_failed_chain_in_header");
  const task_message& failed = cap.consumed[0];
  const task_message& other = cap.consumed[1];
  const result_meta failed_meta = cap.meta_of(failed.headers.id);
  REQUIRE(failed_meta.status == "FAILURE");
  auto steps = chain_failures(failed, failed_meta.result);
  REQUIRE(steps.size() == 1);
  const result_meta step_meta = cap.meta_of(steps[0].task_id);
  CHECK(step_meta.status == "FAILURE");
  CHECK(step_meta.result == failed_meta.result);
  CHECK(steps[0].context.group_id == step_meta.group_id);
  REQUIRE(steps[0].part);
  CHECK(steps[0].part->group_id == *other.headers.group);
  CHECK(steps[0].part->group_index == 0);

  auto ok = chord_part_of(other, "SUCCESS", cap.result_of(other.headers.id));
  REQUIRE(ok);
  CHECK(ok->group_index == 1);
  auto outcome = chord_outcome_of({steps[0].part->member(), ok->member()});
  REQUIRE(std::holds_alternative<chord_failed>(outcome));
  const std::string body_id = other.embed.chord.find("options")->find("task_id")->as_string();
  CHECK(json::value(std::get<chord_failed>(outcome).message) ==
        cap.meta_of(body_id).result.find("exc_message")->as_array()[0]);
}

TEST_CASE("chord sizes count what each header member contributes (_descend)") {
  auto sig = [](std::string_view text) { return *json::parse(text); };
  const std::string task = R"({"task": "t", "args": [], "kwargs": {}, "options": {}, "subtask_type": null})";
  const std::string group = R"({"task": "celery.group", "kwargs": {"tasks": [)" + task + ", " + task +
                            R"(]}, "options": {}, "subtask_type": "group"})";
  CHECK(chord_size_of(sig(task)) == 1);
  CHECK(chord_size_of(sig(group)) == 2);
  CHECK(chord_size_of(sig(R"({"task": "celery.chain", "kwargs": {"tasks": [)" + task + ", " + group +
                          R"(]}, "subtask_type": "chain"})")) == 2);
  CHECK(chord_size_of(sig(R"({"task": "celery.chord", "kwargs": {"header": [], "body": )" + group +
                          R"(}, "subtask_type": "chord"})")) == 2);
  CHECK(chord_size_of(sig(R"({"task": "celery.chain", "kwargs": {"tasks": []}, "subtask_type": "chain"})")) == 0);
  CHECK(chord_size_of(sig(R"({"task": "x", "subtask_type": "chunks"})")) == 0);
}

TEST_CASE("apply_canvas refuses canvases celeriac cannot apply, saying which") {
  auto p = apply_canvas(*json::parse(R"({"task": "celery.starmap", "subtask_type": "xstarmap"})"), {}, {},
                        current_task{"P", "P"});
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().message.find("xstarmap") != std::string::npos);
  CHECK_FALSE(apply_canvas(json::value(3), {}, {}, current_task{"P", "P"}).has_value());
}
