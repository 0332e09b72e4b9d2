// Exactly once across instances and restarts, counted in the queue: every
// 1-second tick between the first and the last message is there once.

#include "beat_test_util.hpp"

using namespace celeriac;
using namespace celeriac::test;

namespace {

constexpr std::string_view every_second = R"([[entry]]
name = "tick"
task = "celeriac.add"
every = "1s"
args = [2, 2]
)";

}  // namespace

TEST_CASE("two instances, the leader killed with kill -9 twice and restarted: every tick sent exactly once") {
  constexpr long lease_ms = 2000;
  redis_server server;
  temp_dir dir;
  const auto file = dir / "schedule.toml";
  write_file(file, every_second);
  auto client = connect(server);
  auto& c = *client;
  const auto start = now_seconds();

  auto a = start_beat(server, file, dir / "a1.log", lease_ms);
  REQUIRE(wait_for_leader(c, {a->pid()}) == a->pid());
  auto b = start_beat(server, file, dir / "b1.log", lease_ms);
  REQUIRE(wait_for_log(*b, "Standing by"));
  std::this_thread::sleep_for(9s);

  // 1. kill -9 the leader: the standby takes over within the lease time.
  a->signal(SIGKILL);
  REQUIRE(a->wait_for(5s).has_value());
  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(wait_for_leader(c, {b->pid()}, 10s) == b->pid());
  const auto takeover = std::chrono::steady_clock::now() - killed;
  CHECK_MESSAGE(takeover < std::chrono::milliseconds(lease_ms + 1000),
                "takeover took " << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count() << " ms");
  MESSAGE("takeover after kill -9: " << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count()
                                     << " ms (lease " << lease_ms << " ms)");
  std::this_thread::sleep_for(6s);

  // 2. restart the killed instance: it stands by.
  a = start_beat(server, file, dir / "a2.log", lease_ms);
  REQUIRE(wait_for_log(*a, "Standing by"));
  std::this_thread::sleep_for(5s);

  // 3. kill -9 the new leader: the restarted instance takes over.
  b->signal(SIGKILL);
  REQUIRE(b->wait_for(5s).has_value());
  REQUIRE(wait_for_leader(c, {a->pid()}, 10s) == a->pid());
  std::this_thread::sleep_for(6s);

  CHECK(a->stop(SIGTERM) == 0);
  CHECK(lease_holder(c) == -1);  // released on SIGTERM
  const auto end = now_seconds();

  const auto messages = queued_messages(c);
  const auto ticks = ticks_of(messages, "tick", start - 2s, end + 2s);
  const std::size_t distinct = check_exactly_once(ticks);
  CHECK(messages.size() == distinct);
  CHECK(ticks.front() <= start + 3s);
  CHECK(ticks.back() >= end - 2s);
  CHECK(distinct >= 25);
  MESSAGE("ticks sent: " << distinct << " (" << util::iso8601_utc(util::wall_time(ticks.front())) << " to "
                         << util::iso8601_utc(util::wall_time(ticks.back())) << ")");
  for (const auto& m : messages) CHECK(m.headers.argsrepr == "[2, 2]");
}

TEST_CASE("a restarted single beat neither repeats nor skips a tick (SIGTERM and kill -9)") {
  constexpr long lease_ms = 3000;  // takeover window 6 s: longer than a restart
  redis_server server;
  temp_dir dir;
  const auto file = dir / "schedule.toml";
  write_file(file, every_second);
  auto client = connect(server);
  auto& c = *client;
  const auto start = now_seconds();

  auto beat = start_beat(server, file, dir / "1.log", lease_ms);
  REQUIRE(wait_for_leader(c, {beat->pid()}) == beat->pid());
  std::this_thread::sleep_for(3s);
  CHECK(beat->stop(SIGTERM) == 0);
  std::this_thread::sleep_for(2s);  // ticks fall due while nothing runs

  beat = start_beat(server, file, dir / "2.log", lease_ms);
  REQUIRE(wait_for_leader(c, {beat->pid()}) == beat->pid());
  std::this_thread::sleep_for(3s);
  beat->signal(SIGKILL);  // the lease stays held by the dead process until it expires
  REQUIRE(beat->wait_for(5s).has_value());

  beat = start_beat(server, file, dir / "3.log", lease_ms);
  REQUIRE(wait_for_leader(c, {beat->pid()}, 10s) == beat->pid());
  std::this_thread::sleep_for(3s);
  CHECK(beat->stop(SIGTERM) == 0);
  const auto end = now_seconds();

  const auto messages = queued_messages(c);
  const auto ticks = ticks_of(messages, "tick", start - 2s, end + 2s);
  const std::size_t distinct = check_exactly_once(ticks);
  CHECK(messages.size() == distinct);
  CHECK(ticks.back() >= end - 2s);
  CHECK(distinct >= 12);
}
