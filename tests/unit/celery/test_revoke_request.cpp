// Celery's revoke arguments and replies, and the revoked-id set a worker
// consults for every message.

#include <doctest/doctest.h>

#include <csignal>

#include "celery/revoke_request.hpp"
#include "celery/revoked_set.hpp"
#include "json/dump.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;
using std::chrono::seconds;

namespace {

revoke_arguments arguments_of(std::string_view sample) {
  auto request = decode_control_request(wire_fixture(sample));
  REQUIRE(request.has_value());
  auto args = read_revoke_arguments(request->arguments);
  REQUIRE_MESSAGE(args.has_value(), args.error());
  return std::move(*args);
}

util::wall_time at(int s) { return util::wall_time(seconds(1'800'000'000 + s)); }

}  // namespace

TEST_CASE("revoke arguments as each Celery client sends them") {
  auto cli = arguments_of("pidbox_revoke_request.json");  // celery control revoke ID
  CHECK(cli.task_ids == std::vector<std::string>{"c89951be-2555-4a83-a4b8-21fd4db10f39"});
  CHECK_FALSE(cli.terminate);
  CHECK_FALSE(cli.signal.has_value());

  auto plain = arguments_of("pidbox_revoke_extra_noreply_request.json");  // AsyncResult.revoke()
  CHECK(plain.task_ids == std::vector<std::string>{"19c65803-7ed5-4149-bc9a-4fa780b209a6"});
  CHECK_FALSE(plain.terminate);

  auto term = arguments_of("pidbox_revoke_extra_noreply_terminate_request.json");  // revoke(terminate=True)
  CHECK(term.terminate);
  CHECK(term.signal == "SIGTERM");
}

TEST_CASE("revoke arguments that cannot be read are refused") {
  CHECK_FALSE(read_revoke_arguments({}).has_value());
  CHECK_FALSE(read_revoke_arguments({{"task_id", json::value(5)}}).has_value());
  CHECK_FALSE(read_revoke_arguments({{"task_id", json::value(json::array{1})}}).has_value());
  CHECK_FALSE(read_revoke_arguments({{"task_id", json::value("a")}, {"terminate", json::value("yes")}}).has_value());
  CHECK_FALSE(read_revoke_arguments({{"task_id", json::value("a")}, {"signal", json::value(9)}}).has_value());
}

TEST_CASE("make_revoke_arguments writes app.control.revoke's shape") {
  revoke_arguments one{.task_ids = {"456789d1-a2dc-452a-829e-e2ac440ab418"}, .terminate = true, .signal = {}};
  auto request = decode_control_request(wire_fixture("pidbox_revoke_extra_noreply_terminate_request.json"));
  REQUIRE(request.has_value());
  CHECK(json::value(make_revoke_arguments(one)) == json::value(request->arguments));

  revoke_arguments two{.task_ids = {"a", "b"}, .terminate = false, .signal = "SIGKILL"};
  CHECK(json::dump(json::value(make_revoke_arguments(two))) ==
        R"({"task_id": ["a", "b"], "terminate": false, "signal": "SIGKILL"})");
}

TEST_CASE("signal names as Celery's signum() reads them") {
  CHECK(signal_number("SIGTERM") == SIGTERM);
  CHECK(signal_number("TERM") == SIGTERM);
  CHECK(signal_number("kill") == SIGKILL);
  CHECK(signal_number("SIGKILL") == SIGKILL);
  CHECK(signal_number("9") == 9);
  CHECK_FALSE(signal_number("").has_value());
  CHECK_FALSE(signal_number("SIGNOPE").has_value());
  CHECK_FALSE(signal_number("0").has_value());
  CHECK_FALSE(signal_number("9x").has_value());
}

TEST_CASE("the worker's reply texts are Celery's") {
  revoke_arguments args{.task_ids = {"c89951be-2555-4a83-a4b8-21fd4db10f39"}, .terminate = false, .signal = {}};
  CHECK(json::dump(revoke_reply(args, {})) == R"({"ok": "tasks c89951be-2555-4a83-a4b8-21fd4db10f39 flagged as revoked"})");
  args.terminate = true;
  CHECK(json::dump(revoke_reply(args, {})) == R"({"ok": "terminate: tasks unknown"})");
  const std::vector<std::string> terminated{"a", "b"};
  CHECK(json::dump(revoke_reply(args, terminated)) == R"({"ok": "terminate: a, b"})");
}

TEST_CASE("revoked_set: ids until their expiry") {
  revoked_set s;
  s.add("a", at(100));
  CHECK(s.contains("a", at(0)));
  CHECK(s.contains("a", at(99)));
  CHECK_FALSE(s.contains("a", at(100)));
  CHECK_FALSE(s.contains("b", at(0)));
  s.add("a", at(50));  // an earlier expiry never shortens a revocation
  CHECK(s.contains("a", at(99)));
  s.add("a", at(200));
  CHECK(s.contains("a", at(150)));
  CHECK(s.size() == 1);
}

TEST_CASE("revoked_set: purge drops expired entries only") {
  revoked_set s;
  s.add("a", at(10));
  s.add("b", at(20));
  s.add("c", at(30));
  CHECK(s.purge(at(20)) == 2);
  CHECK(s.size() == 1);
  CHECK(s.contains("c", at(20)));
  CHECK(s.ids(at(20)) == std::vector<std::string>{"c"});
  s.erase("c");
  CHECK(s.size() == 0);
}

TEST_CASE("revoked_set: bounded, the soonest-expiring entry makes room") {
  revoked_set s(3);
  s.add("a", at(10));
  s.add("b", at(20));
  s.add("c", at(30));
  s.add("d", at(40));
  CHECK(s.size() == 3);
  CHECK_FALSE(s.contains("a", at(0)));
  CHECK(s.contains("d", at(0)));
  s.add("old", at(5));  // older than everything held: not worth a slot
  CHECK_FALSE(s.contains("old", at(0)));
  CHECK(s.ids(at(0)) == std::vector<std::string>{"b", "c", "d"});
}
