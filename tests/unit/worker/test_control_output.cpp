// Remote-control replies printed as `celery control` / `celery inspect`
// print them (without colours), checked against Celery 5.2's captured output.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "worker/control_output.hpp"

using namespace celeriac;

namespace {

celery::control_reply reply(json::value value) {
  celery::control_reply r;
  r.node = "w1@wire";
  r.value = std::move(value);
  return r;
}

// tests/fixtures/celery-wire/<name>: `celery control revoke` and
// `celery inspect ping` output captured with Celery 5.2.6.
std::string captured(std::string_view name) {
  std::ifstream in(std::string(CELERIAC_FIXTURES_DIR) + "/celery-wire/" + std::string(name));
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
  CHECK(cli::format_control_reply(reply(json::value(json::object{{"x", 1}}))) == "->  w1@wire: OK\n    {\"x\": 1}");
}
