// `celeriac inspect` / `celeriac control` words -> request arguments, as
// Celery 5.2's CLI compiles them (each expectation below is what `celery
// inspect|control ...` PUBLISHed, read from a Redis MONITOR trace).

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "json/dump.hpp"
#include "worker/remote_commands.hpp"

using namespace celeriac;
using cli::remote_kind;

namespace {

// The arguments' JSON as kombu writes it, or "error: <message>".
std::string compiled(remote_kind kind, std::string_view name, std::vector<std::string> words) {
  const cli::remote_command* command = cli::find_remote_command(kind, name);
  REQUIRE_MESSAGE(command, name);
  auto arguments = cli::compile_arguments(*command, words);
  if (!arguments) return "error: " + arguments.error().message;
  return json::dump(json::value(*arguments));
}

}  // namespace

TEST_CASE("inspect commands send what celery inspect sends") {
  CHECK(compiled(remote_kind::inspect, "ping", {}) == "{}");
  CHECK(compiled(remote_kind::inspect, "active", {}) == "{}");
  CHECK(compiled(remote_kind::inspect, "registered", {}) == R"({"taskinfoitems": []})");
  CHECK(compiled(remote_kind::inspect, "registered", {"rate_limit"}) == R"({"taskinfoitems": ["rate_limit"]})");
  CHECK(compiled(remote_kind::inspect, "query_task", {"abc", "def"}) == R"({"ids": ["abc", "def"]})");
  CHECK(compiled(remote_kind::inspect, "query_task", {}) == R"({"ids": []})");
  CHECK(compiled(remote_kind::inspect, "conf", {}) == "{}");
  CHECK(compiled(remote_kind::inspect, "conf", {"true"}) == R"({"with_defaults": true})");
  CHECK(compiled(remote_kind::inspect, "conf", {"YES"}) == R"({"with_defaults": true})");
  CHECK(compiled(remote_kind::inspect, "conf", {"off"}) == R"({"with_defaults": false})");
  CHECK(compiled(remote_kind::inspect, "memdump", {"3"}) == R"({"samples": 3})");
  CHECK(compiled(remote_kind::inspect, "objgraph", {"Request", "10"}) == R"({"type": "Request", "num": 10})");
}

TEST_CASE("control commands send what celery control sends") {
  CHECK(compiled(remote_kind::control, "rate_limit", {"celeriac.add", "10/m"}) ==
        R"({"task_name": "celeriac.add", "rate_limit": "10/m"})");
  CHECK(compiled(remote_kind::control, "time_limit", {"celeriac.add", "5", "10"}) ==
        R"({"task_name": "celeriac.add", "soft": 5.0, "hard": 10.0})");
  CHECK(compiled(remote_kind::control, "time_limit", {"celeriac.add", "5"}) ==
        R"({"task_name": "celeriac.add", "soft": 5.0})");
  CHECK(compiled(remote_kind::control, "add_consumer", {"extra"}) == R"({"queue": "extra"})");
  CHECK(compiled(remote_kind::control, "add_consumer", {"extra2", "ex", "topic", "rk"}) ==
        R"({"queue": "extra2", "exchange": "ex", "exchange_type": "topic", "routing_key": "rk"})");
  CHECK(compiled(remote_kind::control, "cancel_consumer", {"extra"}) == R"({"queue": "extra"})");
  CHECK(compiled(remote_kind::control, "pool_grow", {"2"}) == R"({"n": 2})");
  CHECK(compiled(remote_kind::control, "pool_shrink", {}) == "{}");
  CHECK(compiled(remote_kind::control, "autoscale", {"3", "1"}) == R"({"max": 3, "min": 1})");
  CHECK(compiled(remote_kind::control, "revoke", {"aaa", "bbb"}) == R"({"task_id": ["aaa", "bbb"]})");
  CHECK(compiled(remote_kind::control, "terminate", {"SIGKILL", "ccc"}) ==
        R"({"signal": "SIGKILL", "task_id": ["ccc"]})");
  for (const char* bare : {"enable_events", "disable_events", "heartbeat", "shutdown", "election", "pool_restart"})
    CHECK(compiled(remote_kind::control, bare, {}) == "{}");
}

TEST_CASE("words that do not fit are refused, saying which and why") {
  CHECK(compiled(remote_kind::control, "rate_limit", {"a", "b", "c"}) ==
        "error: Command 'rate_limit' takes arguments: <task_name> <rate_limit (e.g., 5/s | 5/m | 5/h)>");
  CHECK(compiled(remote_kind::inspect, "ping", {"x"}) == "error: Command 'ping' takes arguments: none");
  CHECK(compiled(remote_kind::control, "pool_grow", {"x"}) ==
        "error: n of pool_grow must be a whole number, not 'x' (arguments: [N=1])");
  CHECK(compiled(remote_kind::control, "time_limit", {"t", "soon"}).starts_with("error: soft of time_limit must be"));
  CHECK(compiled(remote_kind::inspect, "conf", {"maybe"}).starts_with("error: with_defaults of conf must be true"));
}

TEST_CASE("the command lists are Celery 5.2's visible ones, each under its own kind") {
  std::vector<std::string_view> inspect, control;
  for (const auto& c : cli::remote_commands(remote_kind::inspect)) inspect.push_back(c.name);
  for (const auto& c : cli::remote_commands(remote_kind::control)) control.push_back(c.name);
  CHECK(inspect == std::vector<std::string_view>{"report", "conf", "query_task", "clock", "ping", "stats", "scheduled",
                                                 "reserved", "active", "revoked", "registered", "objgraph",
                                                 "memsample", "memdump", "active_queues"});
  CHECK(control == std::vector<std::string_view>{"revoke", "terminate", "rate_limit", "time_limit", "election",
                                                 "enable_events", "disable_events", "heartbeat", "pool_grow",
                                                 "pool_shrink", "pool_restart", "autoscale", "shutdown",
                                                 "add_consumer", "cancel_consumer"});
  CHECK(cli::find_remote_command(remote_kind::inspect, "rate_limit") == nullptr);
  CHECK(cli::find_remote_command(remote_kind::control, "ping") == nullptr);
  CHECK(cli::find_remote_command(remote_kind::inspect, "hello") == nullptr);  // invisible in Celery's CLI
}
