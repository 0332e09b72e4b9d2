// `inspect` replies against what Celery 5.2.6's worker sent: a scheduled
// reply captured by the wire tools, and `inspect stats` / `active_queues`
// captured from a Celery worker with `celery inspect --json`.

#include <doctest/doctest.h>

#include "celery/inspect_replies.hpp"
#include "celery/pidbox_message.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;

namespace {

json::value parsed(std::string_view text) {
  auto v = json::parse(text);
  REQUIRE(v.has_value());
  return *v;
}

// The value Celery's node sent in a `celery inspect --json` capture.
json::value cli_reply(std::string_view sample, std::string_view node) {
  json::value all = parsed(wire_fixture(sample));
  const json::value* v = all.find(node);
  REQUIRE(v != nullptr);
  return *v;
}

// A task message carrying what a request's info shows.
task_message message_like(const json::value& info, std::optional<std::string> eta) {
  task_message m;
  m.headers.id = info.find("id")->as_string();
  m.headers.task = info.find("name")->as_string();
  m.headers.eta = std::move(eta);
  m.args = info.find("args")->as_array();
  m.kwargs = info.find("kwargs")->as_object();
  m.properties.delivery_info.routing_key = "celery";
  return m;
}

}  // namespace

TEST_CASE("scheduled entries are built as Celery's worker builds them") {
  auto reply = decode_control_reply(wire_fixture("pidbox_scheduled_extra_reply.json"));
  REQUIRE(reply.has_value());
  const json::array& entries = reply->value.as_array();
  REQUIRE(entries.size() == 2);
  for (const auto& want : entries) {
    const json::value& info = *want.find("request");
    task_message m = message_like(info, want.find("eta")->as_string());
    request_state st;
    st.hostname = info.find("hostname")->as_string();
    CHECK(json::dump(scheduled_entry(m, st)) == json::dump(want));
  }
}

TEST_CASE("a running task's info carries its start, pid and acknowledgement") {
  task_message m;
  m.headers.id = "t1";
  m.headers.task = "celeriac.sleep";
  m.args = json::array{json::value(4)};
  m.properties.delivery_info.routing_key = "celery";
  m.properties.priority = 3;
  m.properties.delivery_info.extra.emplace_back("redelivered", true);
  request_state st;
  st.hostname = "cc@host";
  st.time_start = 1796376658.25;
  st.worker_pid = 3939;
  CHECK(json::dump(request_info(m, st)) ==
        R"({"id": "t1", "name": "celeriac.sleep", "args": [4], "kwargs": {}, "type": "celeriac.sleep", )"
        R"("hostname": "cc@host", "time_start": 1796376658.25, "acknowledged": false, "delivery_info": )"
        R"({"exchange": "", "routing_key": "celery", "priority": 3, "redelivered": true}, "worker_pid": 3939})");
}

TEST_CASE("active_queues entries match kombu's Queue.as_dict") {
  json::value want = cli_reply("inspect_active_queues_reply.json", "cw@host");
  REQUIRE(want.as_array().size() == 1);
  CHECK(json::dump(active_queue("celery")) == json::dump(want.as_array()[0]));
}

TEST_CASE("stats are shaped as Celery's, field for field") {
  json::value want = cli_reply("inspect_stats_reply.json", "cw@host");
  node_stats s;
  s.total = {{"celeriac.add", 3}, {"celeriac.sleep", 8}};
  s.pid = 3936;
  s.clock = 3643;
  s.uptime_seconds = 3620;
  s.max_concurrency = 2;
  s.processes = {3939, 3940};
  s.tasks_per_process = {7, 4};
  s.broker_host = "127.0.0.1";
  s.broker_port = 58511;
  s.prefetch_count = 8;
  s.rusage = rusage_from_json(*want.find("rusage"));
  json::value got = stats_reply(s);
  // Celery lists totals in the order tasks first ran; celeriac by name.
  for (std::string_view key : {"pid", "clock", "uptime", "pool", "broker", "prefetch_count", "rusage"}) {
    CAPTURE(key);
    CHECK(json::dump(*got.find(key)) == json::dump(*want.find(key)));
  }
  CHECK(got.find("total")->find("celeriac.sleep")->as_integer() == 8);
  CHECK(got.find("total")->find("celeriac.add")->as_integer() == 3);
  std::vector<std::string> got_keys, want_keys;
  for (const auto& [k, v] : got.as_object()) got_keys.push_back(k);
  for (const auto& [k, v] : want.as_object()) want_keys.push_back(k);
  CHECK(got_keys == want_keys);
}

TEST_CASE("rusage adds up over children, maxrss is the peak") {
  rusage_figures a, b;
  a.utime = 1.5;
  a.maxrss = 100;
  a.minflt = 10;
  b.utime = 0.5;
  b.maxrss = 300;
  b.minflt = 5;
  a += b;
  CHECK(a.utime == 2.0);
  CHECK(a.maxrss == 300);
  CHECK(a.minflt == 15);
  CHECK(rusage_from_json(rusage_json(a)).minflt == 15);
  CHECK(rusage_from_json(json::value("N/A")).utime == 0);
}

TEST_CASE("registered entries name a rate limit only when set") {
  CHECK(registered_entry("celeriac.add", std::nullopt) == "celeriac.add");
  CHECK(registered_entry("celeriac.add", std::string("10/s")) == "celeriac.add [rate_limit=10/s]");
}

TEST_CASE("parts merge: arrays concatenated, objects joined, other shapes skipped") {
  std::vector<json::value> parts{parsed("[1, 2]"), parsed("{\"a\": 1}"), parsed("[3]")};
  CHECK(json::dump(json::value(concat_arrays(parts))) == "[1, 2, 3]");
  std::vector<json::value> objects{parsed(R"({"x": [1]})"), parsed("[]"), parsed(R"({"y": 2, "x": 3})")};
  CHECK(json::dump(json::value(merge_objects(objects))) == R"({"x": 3, "y": 2})");
}
