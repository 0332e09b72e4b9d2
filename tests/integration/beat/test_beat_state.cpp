// Persisted state: the missed policy after an outage, new and changed
// entries, entries removed from the file, and reloads without restart.

#include "beat_test_util.hpp"

#include "scheduler/beat_keys.hpp"

using namespace celeriac;
using namespace celeriac::test;

namespace {

std::optional<long long> stored_last(redis::sync_client& c, std::string_view entry) {
  auto v = c.command("HGET", scheduler::make_beat_keys("default").last, entry);
  if (v.is_nil()) return std::nullopt;
  return std::stoll(std::string(*v.as_string()));
}

long long unix_of(std::chrono::sys_seconds t) { return t.time_since_epoch().count(); }

}  // namespace

TEST_CASE("after an outage: run_once sends one catch-up run, skip none; new and retimed entries start now") {
  redis_server server;
  temp_dir dir;
  auto client = connect(server);
  auto& c = *client;
  // Keep clear of an hour boundary, so "the latest hourly tick" holds still.
  auto now = now_seconds();
  auto hour = std::chrono::floor<std::chrono::hours>(now);
  if (now - hour < 10s) {
    std::this_thread::sleep_for(hour + 11s - now);
    now = now_seconds();
  }
  const std::chrono::sys_seconds tick = std::chrono::floor<std::chrono::hours>(now);
  const auto keys = scheduler::make_beat_keys("default");
  const long long three_hours_ago = unix_of(tick - std::chrono::hours(3));
  redis::request seed;
  seed.push("HSET", keys.last, "once", three_hours_ago)
      .push("HSET", keys.last, "skipper", three_hours_ago)
      .push("HSET", keys.last, "retimed", three_hours_ago)
      .push("HSET", keys.last, "gone", three_hours_ago)
      .push("HSET", keys.fingerprint, "once", "every 3600s")
      .push("HSET", keys.fingerprint, "skipper", "every 3600s")
      .push("HSET", keys.fingerprint, "retimed", "every 7200s")
      .push("HSET", keys.fingerprint, "gone", "every 60s");
  for (const auto& r : c.exec(seed)) REQUIRE_FALSE(r.is_error());

  const auto file = dir / "schedule.toml";
  write_file(file, R"([[entry]]
name = "once"
task = "celeriac.add"
every = "1h"

[[entry]]
name = "skipper"
task = "celeriac.add"
every = "1h"
missed = "skip"

[[entry]]
name = "fresh"
task = "celeriac.add"
every = "1h"

[[entry]]
name = "retimed"
task = "celeriac.add"
every = "1h"
)");
  const auto started = now_seconds();
  auto beat = start_beat(server, file, dir / "beat.log", 1000);
  REQUIRE(wait_for_log(*beat, "Entry gone is no longer scheduled"));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (stored_last(c, "skipper") != unix_of(tick) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(500ms);
  CHECK(beat->stop(SIGTERM) == 0);
  const auto log = beat->log();
  INFO(log);

  const auto messages = queued_messages(c);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].headers.id == scheduler::tick_task_id("default", "once", tick));
  CHECK(stored_last(c, "once") == unix_of(tick));
  CHECK(stored_last(c, "skipper") == unix_of(tick));
  const auto fresh = stored_last(c, "fresh");
  REQUIRE(fresh.has_value());
  CHECK(*fresh >= unix_of(started) - 1);
  CHECK(*fresh <= unix_of(started) + 10);
  CHECK(*stored_last(c, "retimed") >= unix_of(started) - 1);
  CHECK_FALSE(stored_last(c, "gone").has_value());
  CHECK(log.find("Entry once missed 3 ticks while no beat ran") != std::string::npos);
  CHECK(log.find("one catch-up run for") != std::string::npos);
  CHECK(log.find("Entry skipper missed 3 ticks while no beat ran") != std::string::npos);
  CHECK(log.find("New entry fresh") != std::string::npos);
  CHECK(log.find("Changed timing for entry retimed") != std::string::npos);
}

TEST_CASE("file changes are picked up without a restart; a broken file keeps the old schedule; SIGHUP reloads") {
  redis_server server;
  temp_dir dir;
  auto client = connect(server);
  auto& c = *client;
  const auto file = dir / "schedule.toml";
  constexpr std::string_view entry_a = "[[entry]]\nname = \"a\"\ntask = \"celeriac.add\"\nevery = \"1s\"\n";
  constexpr std::string_view entry_b = "[[entry]]\nname = \"b\"\ntask = \"celeriac.mul\"\nevery = \"1s\"\n";
  write_file(file, entry_a);
  const auto start = now_seconds();
  auto beat = start_beat(server, file, dir / "beat.log", 1000);
  REQUIRE(wait_for_log(*beat, "Sending due task a"));

  // Added on disk: picked up by the mtime poll.
  write_file(file, std::string(entry_a) + "\n" + std::string(entry_b));
  REQUIRE(wait_for_log(*beat, "Sending due task b", 5s));

  // A broken file: logged, the running schedule keeps going.
  write_file(file, std::string(entry_a) + "\n" + std::string(entry_b) + "every = \"2s\"\n");
  REQUIRE(wait_for_log(*beat, "does not load", 5s));
  CHECK(beat->log().find("schedule.toml:10:") != std::string::npos);
  const auto before = queued_messages(c).size();
  std::this_thread::sleep_for(2500ms);
  CHECK(queued_messages(c).size() >= before + 4);  // a and b still sent

  // Fixed, a removed, and a SIGHUP.
  write_file(file, entry_b);
  beat->signal(SIGHUP);
  REQUIRE(wait_for_log(*beat, "removed a", 5s));
  REQUIRE(wait_for_log(*beat, "Entry a is no longer scheduled", 5s));
  std::this_thread::sleep_for(1500ms);
  CHECK(beat->stop(SIGTERM) == 0);
  const auto end = now_seconds();

  std::vector<celery::task_message> as, bs;
  for (auto& m : queued_messages(c)) (m.headers.task == "celeriac.add" ? as : bs).push_back(std::move(m));
  check_exactly_once(ticks_of(as, "a", start - 2s, end + 2s));
  check_exactly_once(ticks_of(bs, "b", start - 2s, end + 2s));
  CHECK(bs.size() >= 5);
  CHECK(c.command("HEXISTS", scheduler::make_beat_keys("default").last, "a").as_integer().value() == 0);
}

TEST_CASE("a Redis restart (state lost) is survived: beat reconnects, re-acquires the lease and carries on") {
  redis_server server;
  temp_dir dir;
  const auto file = dir / "schedule.toml";
  write_file(file, "[[entry]]\nname = \"a\"\ntask = \"celeriac.add\"\nevery = \"1s\"\n");
  auto beat = start_beat(server, file, dir / "beat.log", 1000);
  REQUIRE(wait_for_log(*beat, "Sending due task a"));
  server.restart();  // persistence is off: queue, lease and ticks are gone
  const auto restarted = now_seconds();
  {
    auto client = connect(server);
    auto& c = *client;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (c.command("LLEN", "celery").as_integer().value() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms);
    CHECK(beat->stop(SIGTERM) == 0);
    const auto end = now_seconds();
    INFO(beat->log());
    const auto ticks = ticks_of(queued_messages(c), "a", restarted - 2s, end + 2s);
    CHECK(ticks.size() >= 2);
    check_exactly_once(ticks);
  }
  const auto log = beat->log();
  INFO(log);
  const auto connected = log.find("beat: Connected to");
  REQUIRE(connected != std::string::npos);
  CHECK(log.find("beat: Connected to", connected + 1) != std::string::npos);  // once more after the restart
  const bool noticed = log.find("Lost the connection") != std::string::npos ||
                       log.find("; reconnecting to") != std::string::npos;
  CHECK(noticed);
  const auto first_new = log.find("New entry a");
  REQUIRE(first_new != std::string::npos);
  CHECK(log.find("New entry a", first_new + 1) != std::string::npos);  // the stored tick went with the data
}
