// Celery's monitoring events against Celery 5.2.6's captured bytes: every
// event sample re-encodes byte for byte, each builder rebuilds its sample's
// body, the pubsub channels match the trace, and garbage is refused.

#include <doctest/doctest.h>

#include <sstream>

#include "celery/event_message.hpp"
#include "celery/task_message.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;

namespace {

constexpr std::string_view event_samples[] = {
    "event_task_received.json",     "event_task_received_solo.json",  "event_task_started.json",
    "event_task_succeeded.json",    "event_task_failed.json",         "event_task_retried.json",
    "event_task_revoked.json",      "event_worker_online.json",       "event_worker_online_solo.json",
    "event_worker_heartbeat.json",  "event_worker_heartbeat_solo.json", "event_worker_offline.json",
    "event_worker_offline_solo.json",
};

event_message decoded(std::string_view sample) {
  auto m = decode_event_message(wire_fixture(sample));
  REQUIRE_MESSAGE(m.has_value(), sample << ": " << m.error());
  return std::move(*m);
}

// The one event a sample holds (task samples are task.multi lists of one).
const json::value& only_event(const event_message& m) {
  if (!m.body.is_array()) return m.body;
  REQUIRE(m.body.as_array().size() == 1);
  return m.body.as_array()[0];
}

const json::value& field(const json::value& event, std::string_view key) {
  const json::value* v = event.find(key);
  REQUIRE_MESSAGE(v != nullptr, "event has no field " << key);
  return *v;
}

std::optional<std::string> optional_field(const json::value& event, std::string_view key) {
  const json::value& v = field(event, key);
  return v.is_null() ? std::nullopt : std::optional<std::string>(v.as_string());
}

// Rebuilds a sample's event from its own values with our builders.
std::string rebuilt(const json::value& e, const json::object& fields) {
  event_sender from{field(e, "hostname").as_string(), field(e, "utcoffset").as_integer(), field(e, "pid").as_integer()};
  return event_json(field(e, "type").as_string(), from, field(e, "clock").as_integer(),
                    field(e, "timestamp").as_double(), fields);
}

worker_vitals vitals_of(const json::value& e) {
  worker_vitals v;
  v.freq = field(e, "freq").as_double();
  v.active = field(e, "active").as_integer();
  v.processed = field(e, "processed").as_integer();
  const auto& load = field(e, "loadavg").as_array();
  REQUIRE(load.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) v.loadavg[i] = load[i].as_double();
  v.sw_ident = field(e, "sw_ident").as_string();
  v.sw_ver = field(e, "sw_ver").as_string();
  v.sw_sys = field(e, "sw_sys").as_string();
  return v;
}

task_message received_message(const json::value& e) {
  task_message m;
  m.headers.id = field(e, "uuid").as_string();
  m.headers.task = field(e, "name").as_string();
  m.headers.argsrepr = field(e, "args").as_string();
  m.headers.kwargsrepr = field(e, "kwargs").as_string();
  m.headers.root_id = optional_field(e, "root_id");
  m.headers.parent_id = optional_field(e, "parent_id");
  m.headers.retries = field(e, "retries").as_integer();
  m.headers.eta = optional_field(e, "eta");
  m.headers.expires = optional_field(e, "expires");
  return m;
}

}  // namespace

TEST_CASE("every captured event message decodes and re-encodes to kombu's exact bytes") {
  for (auto sample : event_samples) {
    CAPTURE(sample);
    const std::string raw = wire_fixture(sample);
    const event_message m = decoded(sample);
    CHECK(encode_event_message(json::dump(m.body), m.hostname, m.routing_key, m.delivery_tag) == raw);
    const bool task_event = std::string_view(sample).starts_with("event_task_");
    CHECK(m.body.is_array() == task_event);
    CHECK(m.routing_key == (task_event ? std::string(task_multi_routing_key)
                                       : event_routing_key(field(only_event(m), "type").as_string())));
  }
}

TEST_CASE("each builder rebuilds its captured event body") {
  for (auto sample : event_samples) {
    CAPTURE(sample);
    const event_message m = decoded(sample);
    const json::value& e = only_event(m);
    const std::string type = field(e, "type").as_string();
    const std::string id = type.starts_with("task-") ? field(e, "uuid").as_string() : "";
    json::object fields;
    if (type == "task-received") {
      fields = task_received_fields(received_message(e));
    } else if (type == "task-started") {
      fields = task_started_fields(id);
    } else if (type == "task-succeeded") {
      // The sample's task returned 5; the event shows saferepr(5).
      REQUIRE(field(e, "result").as_string() == "5");
      fields = task_succeeded_fields(id, json::value(5), field(e, "runtime").as_double());
    } else if (type == "task-failed") {
      fields = task_failed_fields(id, exception_text("ValueError", json::array{"boom"}),
                                  field(e, "traceback").as_string());
    } else if (type == "task-retried") {
      fields = task_retried_fields(id, field(e, "exception").as_string(), field(e, "traceback").as_string());
    } else if (type == "task-revoked") {
      fields = task_revoked_fields(id, revoke_flags{});
    } else {
      fields = worker_fields(vitals_of(e));
    }
    CHECK(rebuilt(e, fields) == json::dump(e));
    if (m.body.is_array()) CHECK(event_list_json({rebuilt(e, fields)}) == json::dump(m.body));
  }
}

TEST_CASE("the channels Celery published events on") {
  std::istringstream lines(wire_fixture("pubsub_events_extract.jsonl"));
  int seen = 0;
  for (std::string line; std::getline(lines, line);) {
    auto entry = json::parse(line);
    REQUIRE(entry.has_value());
    const std::string& data = entry->find("data")->as_string();
    auto m = decode_event_message(data);
    REQUIRE(m.has_value());
    CHECK(entry->find("channel")->as_string() == event_channel(0, m->routing_key));
    CHECK(encode_event_message(json::dump(m->body), m->hostname, m->routing_key, m->delivery_tag) == data);
    ++seen;
  }
  CHECK(seen == 4);  // worker.online, task.multi, worker.heartbeat, worker.offline
  CHECK(event_channel(3, "task.multi") == "/3.celeryev/task.multi");
  CHECK(event_routing_key("task-succeeded") == "task.succeeded");
  CHECK(event_routing_key("worker-heartbeat") == "worker.heartbeat");
  CHECK(event_list_json({}) == "[]");
  CHECK(event_list_json({"{}", "{\"a\": 1}"}) == "[{}, {\"a\": 1}]");
}

TEST_CASE("event fields Celery sends that the samples do not show") {
  CHECK(json::dump(json::value(task_revoked_fields("i", revoke_flags{true, 15, false}))) ==
        R"({"uuid": "i", "terminated": true, "signum": 15, "expired": false})");
  CHECK(json::dump(json::value(task_revoked_fields("i", revoke_flags{false, std::nullopt, true}))) ==
        R"({"uuid": "i", "terminated": false, "signum": null, "expired": true})");
  CHECK(json::dump(json::value(task_rejected_fields("i", true))) == R"({"uuid": "i", "requeue": true})");
  // An unknown task's task-failed (Consumer.on_unknown_task) has no traceback.
  CHECK(json::dump(json::value(task_failed_fields("i", exception_text("NotRegistered", json::array{"x.y"}),
                                                  std::nullopt))) ==
        R"j({"uuid": "i", "exception": "NotRegistered('x.y')"})j");
  worker_vitals v;
  v.sw_ident = "celeriac";
  v.sw_ver = "0.1.0";
  v.sw_sys = "Linux";
  CHECK(json::dump(json::value(requested_heartbeat_fields(v))) ==
        R"({"freq": 5, "sw_ident": "celeriac", "sw_ver": "0.1.0", "sw_sys": "Linux"})");
  // saferepr of the result, as the tracer hands it over.
  CHECK(task_succeeded_fields("i", json::value("ok"), 0.5)[1].second.as_string() == "'ok'");
  CHECK(task_succeeded_fields("i", json::value(), 0.5)[1].second.as_string() == "None");
  CHECK(task_succeeded_fields("i", json::array{1, json::object{{"a", true}}}, 0.5)[1].second.as_string() ==
        "[1, {'a': True}]");
}

TEST_CASE("exception_text is Python's repr of the exception") {
  CHECK(exception_text("ValueError", json::array{"boom"}) == "ValueError('boom')");
  CHECK(exception_text("ValueError", json::array{"a", 1}) == "ValueError('a', 1)");
  CHECK(exception_text("ValueError", json::array{"it's"}) == "ValueError(\"it's\")");
  CHECK(exception_text("SoftTimeLimitExceeded", json::array{}) == "SoftTimeLimitExceeded()");
  CHECK(exception_text("TimeLimitExceeded", json::array{5.0}) == "TimeLimitExceeded(5.0)");
}

TEST_CASE("load average and utcoffset as Celery computes them") {
  // Values from Python: ceil(l * 1e2) / 1e2.
  const auto r = rounded_load_average({0.7234, 1.005, 12.3456});
  CHECK(json::dump(json::array{r[0], r[1], r[2]}) == "[0.73, 1.01, 12.35]");
  const auto s = rounded_load_average({0.72, 1.0, 0.0});
  CHECK(json::dump(json::array{s[0], s[1], s[2]}) == "[0.72, 1.0, 0.0]");
  CHECK(utcoffset_hours(0) == 0);
  CHECK(utcoffset_hours(3600) == -1);        // UTC+1: time.timezone // 3600
  CHECK(utcoffset_hours(-5 * 3600) == 5);    // UTC-5
  CHECK(utcoffset_hours(19800) == -6);       // UTC+5:30: -19800 // 3600
  CHECK(utcoffset_hours(-9 * 3600 - 1800) == 9);  // UTC-9:30: 34200 // 3600
}

TEST_CASE("decode_event_message refuses what is not an event message") {
  CHECK_FALSE(decode_event_message("").has_value());
  CHECK_FALSE(decode_event_message("[]").has_value());
  CHECK_FALSE(decode_event_message(R"({"body": 1})").has_value());
  CHECK_FALSE(decode_event_message(R"({"body": "!!!"})").has_value());
  CHECK_FALSE(decode_event_message(R"({"body": "e30="})").has_value());  // {} but no routing key
  auto ok = decode_event_message(
      R"({"body": "e30=", "properties": {"delivery_info": {"exchange": "celeryev", "routing_key": "x.y"}}})");
  REQUIRE(ok.has_value());
  CHECK(ok->routing_key == "x.y");
  CHECK(ok->body.is_object());
}
