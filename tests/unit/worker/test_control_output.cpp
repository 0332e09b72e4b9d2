// Remote-control replies printed as `celery control` / `celery inspect`
// print them (piped, so without colours), checked against Celery 5.2's
// captured output: tests/fixtures/celery-cli/ holds each command's --json
// output next to its human text.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "json/parse.hpp"
#include "worker/control_output.hpp"

using namespace celeriac;

namespace {

celery::control_reply reply(json::value value, std::string node = "w1@wire") {
  celery::control_reply r;
  r.node = std::move(node);
  r.value = std::move(value);
  return r;
}

std::string read_fixture(const std::string& path) {
  std::ifstream in(std::string(CELERIAC_FIXTURES_DIR) + "/" + path);
  REQUIRE_MESSAGE(in, path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tests/fixtures/celery-wire/<name>: `celery control revoke` and
// `celery inspect ping` output captured with Celery 5.2.6.
std::string captured(std::string_view name) { return read_fixture("celery-wire/" + std::string(name)); }

// The replies of a `celery ... --json` capture, in its order.
std::vector<celery::control_reply> replies_of(const std::string& json_text) {
  auto parsed = json::parse(json_text);
  REQUIRE(parsed);
  std::vector<celery::control_reply> out;
  const auto take = [&](const json::object& nodes) {
    for (const auto& [node, value] : nodes) out.push_back(reply(value, node));
  };
  if (parsed->is_array())
    for (const auto& item : parsed->as_array()) take(item.as_object());
  else
    take(parsed->as_object());
  return out;
}

}  // namespace

TEST_CASE("an ok reply prints as celery control revoke prints it") {
  auto text = cli::format_control_reply(
      reply(celery::control_ok("tasks c89951be-2555-4a83-a4b8-21fd4db10f39 flagged as revoked")));
  CHECK(text + "\n" == captured("control_revoke.txt"));
}

TEST_CASE("a pong prints as celery inspect ping prints it") {
  const std::string ping = captured("inspect_ping.txt");
  auto text = cli::format_control_reply(reply(celery::control_ok("pong")));
  CHECK(ping.starts_with(text + "\n"));
}

TEST_CASE("errors, lists and other values") {
  CHECK(cli::format_control_reply(reply(celery::control_error("no such task"))) ==
        "->  w1@wire: ERROR\n        no such task");
  CHECK(cli::format_control_reply(reply(json::value(json::array{}))) == "->  w1@wire: OK\n    - empty -");
  CHECK(cli::format_control_reply(reply(json::value(json::array{"a", 2}))) == "->  w1@wire: OK\n    * a\n    * 2");
  CHECK(cli::format_control_reply(reply(json::value("text"))) == "->  w1@wire: OK\n    text");
  CHECK(cli::format_control_reply(reply(json::value(json::object{{"x", 1}}))) ==
        "->  w1@wire: OK\n    {\n        \"x\": 1\n    }\n    ");
  CHECK(cli::format_control_reply(reply(json::value())) == "->  w1@wire: OK\n    None");
}

TEST_CASE("every captured command prints as Celery's CLI printed it, with and without --json") {
  const cli::remote_kind inspect = cli::remote_kind::inspect, control = cli::remote_kind::control;
  const std::pair<const char*, cli::remote_kind> cases[] = {
      {"inspect_ping", inspect},       {"inspect_active", inspect},     {"inspect_reserved", inspect},
      {"inspect_scheduled", inspect},  {"inspect_query_task", inspect}, {"inspect_stats", inspect},
      {"inspect_registered", inspect}, {"inspect_revoked", inspect},    {"inspect_active_queues", inspect},
      {"inspect_conf", inspect},       {"inspect_report", inspect},     {"inspect_clock", inspect},
      {"inspect_memsample", inspect},  {"inspect_memdump", inspect},    {"inspect_objgraph", inspect},
      {"inspect_synthetic", inspect},  {"control_time_limit", control}, {"control_heartbeat", control},
      {"control_multi", control},
  };
  for (const auto& [name, kind] : cases) {
    CAPTURE(name);
    const std::string json_text = read_fixture(std::string("celery-cli/") + name + ".json");
    const auto replies = replies_of(json_text);
    CHECK(cli::format_replies(kind, replies) == read_fixture(std::string("celery-cli/") + name + ".txt"));
    CHECK(cli::format_replies_json(kind, replies) == json_text);
  }
}

TEST_CASE("inspect counts nodes once and keeps a node's last reply in its first place, as flatten_reply") {
  const std::vector<celery::control_reply> replies{reply(celery::control_ok("pong"), "a@x"),
                                                   reply(celery::control_ok("pong"), "b@x"),
                                                   reply(celery::control_error("again"), "a@x")};
  CHECK(cli::format_replies(cli::remote_kind::inspect, replies).ends_with("\n\n2 nodes online.\n"));
  CHECK(cli::format_replies_json(cli::remote_kind::inspect, replies) ==
        "{\"a@x\": {\"error\": \"again\"}, \"b@x\": {\"ok\": \"pong\"}}\n");
  CHECK(cli::format_replies_json(cli::remote_kind::control, replies) ==
        "[{\"a@x\": {\"ok\": \"pong\"}}, {\"b@x\": {\"ok\": \"pong\"}}, {\"a@x\": {\"error\": \"again\"}}]\n");
}

TEST_CASE("no replies: nothing but the count for inspect, nothing for control") {
  CHECK(cli::format_replies(cli::remote_kind::inspect, {}) == "\n0 nodes online.\n");
  CHECK(cli::format_replies(cli::remote_kind::control, {}) == "");
  CHECK(cli::format_replies_json(cli::remote_kind::inspect, {}) == "{}\n");
  CHECK(cli::format_replies_json(cli::remote_kind::control, {}) == "[]\n");
}
