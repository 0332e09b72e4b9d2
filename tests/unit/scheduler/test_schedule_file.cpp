// Schedule files: every field, the defaults, and a clear `file:line:`
// message for each kind of mistake, all of them collected in one pass.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "scheduler/schedule_file.hpp"

using namespace celeriac::scheduler;
using strings = std::vector<std::string>;

namespace {

std::vector<schedule_entry> entries_of(std::string_view text) {
  auto r = parse_schedule(text, "s.toml");
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().to_string()));
  return std::move(*r);
}

strings errors_of(std::string_view text) {
  auto r = parse_schedule(text, "s.toml");
  REQUIRE_MESSAGE(!r.has_value(), "expected the schedule to be rejected");
  return r.error().messages;
}

// A valid entry, for tests that add one mistake to it.
constexpr std::string_view good = R"([[entry]]
name = "ok"
task = "celeriac.add"
every = "10s"
)";

}  // namespace

TEST_CASE("a full entry: every field") {
  auto entries = entries_of(R"(# comment
[[entry]]
name = "dashboard-stats"
task = "celeriac.analytics.dashboard_stats"
cron = "*/5 * * * *"
args = [1, "two", 3.0]
kwargs = { view = "merchant_stats", concurrently = true }
queue = "analytics"
priority = 7
expires = 300
timezone = "America/New_York"
missed = "skip"
enabled = false
)");
  REQUIRE(entries.size() == 1);
  const auto& e = entries[0];
  CHECK(e.name == "dashboard-stats");
  CHECK(e.task == "celeriac.analytics.dashboard_stats");
  REQUIRE(e.when.cron() != nullptr);
  CHECK(e.when.cron()->text() == "*/5 * * * *");
  CHECK(e.args_json == "[1, \"two\", 3.0]");
  CHECK(e.kwargs_json == "{\"concurrently\": true, \"view\": \"merchant_stats\"}");
  CHECK(e.queue == "analytics");
  CHECK(e.priority == 7);
  CHECK(e.expires == 300.0);
  CHECK(e.timezone_name == "America/New_York");
  REQUIRE(e.timezone != nullptr);
  CHECK(e.timezone->name() == "America/New_York");
  CHECK(e.missed == missed_policy::skip);
  CHECK_FALSE(e.enabled);
  CHECK(e.line == 2);
}

TEST_CASE("defaults: args, kwargs, queue, priority, expires, timezone, missed, enabled") {
  auto entries = entries_of(good);
  REQUIRE(entries.size() == 1);
  const auto& e = entries[0];
  REQUIRE(e.when.interval() != nullptr);
  CHECK(e.when.interval()->period() == std::chrono::seconds{10});
  CHECK(e.args_json == "[]");
  CHECK(e.kwargs_json == "{}");
  CHECK(e.queue == "celery");
  CHECK_FALSE(e.priority.has_value());
  CHECK_FALSE(e.expires.has_value());
  CHECK(e.timezone_name == "UTC");
  REQUIRE(e.timezone != nullptr);
  CHECK(e.timezone->name() == "UTC");
  CHECK(e.missed == missed_policy::run_once);
  CHECK(e.enabled);
  CHECK(e.line == 1);
}

TEST_CASE("several entries keep file order; sub-tables work for kwargs; floats for expires") {
  auto entries = entries_of(R"([[entry]]
name = "a"
task = "t.a"
cron = "@daily"
expires = 1.5

[[entry]]
name = "b"
task = "t.b"
every = "1h30m"
[entry.kwargs]
limit = 10
)");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].name == "a");
  CHECK(entries[0].expires == 1.5);
  CHECK(entries[1].name == "b");
  CHECK(entries[1].kwargs_json == "{\"limit\": 10}");
  CHECK(entries[1].line == 7);
}

TEST_CASE("missing required fields") {
  CHECK(errors_of("[[entry]]\ntask = \"t\"\nevery = \"1m\"\n") ==
        strings{"s.toml:1: entry #1: missing required field \"name\" (e.g. name = \"dashboard-stats\")"});
  CHECK(errors_of("[[entry]]\nname = \"x\"\nevery = \"1m\"\n") ==
        strings{"s.toml:1: entry \"x\": missing required field \"task\" (e.g. task = "
                "\"celeriac.analytics.dashboard_stats\")"});
  CHECK(errors_of("[[entry]]\nname = \"x\"\ntask = \"t\"\n") ==
        strings{"s.toml:1: entry \"x\": needs a schedule: set cron = \"*/5 * * * *\" or every = \"30s\""});
}

TEST_CASE("cron and every together") {
  CHECK(errors_of("[[entry]]\nname = \"x\"\ntask = \"t\"\ncron = \"@daily\"\nevery = \"1m\"\n") ==
        strings{"s.toml:5: entry \"x\": set either cron or every, not both"});
}

TEST_CASE("unknown fields, with a suggestion for near misses") {
  CHECK(errors_of(std::string(good) + "timzone = \"UTC\"\n") ==
        strings{"s.toml:5: entry \"ok\": unknown field \"timzone\"; did you mean \"timezone\"?"});
  CHECK(errors_of(std::string(good) + "schedule = \"x\"\n") ==
        strings{"s.toml:5: entry \"ok\": unknown field \"schedule\"; known fields are name, task, cron, every, "
                "args, kwargs, queue, priority, expires, timezone, missed, enabled"});
  CHECK(errors_of(std::string(good) + "[entry.options]\nx = 1\n")[0].find("s.toml:5: entry \"ok\": unknown field "
                                                                          "\"options\"") == 0);
}

TEST_CASE("bad cron fields are reported with the line and the field") {
  CHECK(errors_of("[[entry]]\nname = \"x\"\ntask = \"t\"\ncron = \"61 * * * *\"\n") ==
        strings{"s.toml:4: entry \"x\": cron \"61 * * * *\": minute field \"61\": 61 is out of range 0-59"});
  CHECK(errors_of("[[entry]]\nname = \"x\"\ntask = \"t\"\ncron = \"@reboot\"\n")[0].find(
            "s.toml:4: entry \"x\": cron \"@reboot\": @reboot is not supported") == 0);
  CHECK(errors_of("[[entry]]\nname = \"x\"\ntask = \"t\"\ncron = \"* * * *\"\n") ==
        strings{"s.toml:4: entry \"x\": cron \"* * * *\": expected 5 fields (minute hour day-of-month month "
                "day-of-week), got 4"});
}

TEST_CASE("bad every values") {
  CHECK(errors_of("[[entry]]\nname = \"x\"\ntask = \"t\"\nevery = \"5x\"\n")[0].find(
            "s.toml:4: entry \"x\": every \"5x\": unknown unit \"x\"") == 0);
  CHECK(errors_of("[[entry]]\nname = \"x\"\ntask = \"t\"\nevery = 30\n") ==
        strings{"s.toml:4: entry \"x\": field \"every\" must be a string such as \"30s\" or \"1h30m\", not an "
                "integer"});
}

TEST_CASE("unknown time zones") {
  CHECK(errors_of(std::string(good) + "timezone = \"America/Nowhere\"\n") ==
        strings{"s.toml:5: entry \"ok\": unknown time zone \"America/Nowhere\": not in the system zoneinfo "
                "(/usr/share/zoneinfo); use an IANA name such as \"America/New_York\" or \"UTC\""});
  CHECK(errors_of(std::string(good) + "timezone = \"EST 5\"\n")[0].find("is not an IANA zone name") !=
        std::string::npos);
}

TEST_CASE("wrong types and out-of-range values") {
  CHECK(errors_of(std::string(good) + "args = \"2, 3\"\n") ==
        strings{"s.toml:5: entry \"ok\": field \"args\" must be an array, e.g. args = [2, 3], not a string"});
  CHECK(errors_of(std::string(good) + "kwargs = [1]\n") ==
        strings{"s.toml:5: entry \"ok\": field \"kwargs\" must be a table, e.g. kwargs = { view = \"name\" }, not "
                "an array"});
  CHECK(errors_of(std::string(good) + "priority = 10\n") ==
        strings{"s.toml:5: entry \"ok\": priority 10 is out of range; use an integer from 0 to 9"});
  CHECK(errors_of(std::string(good) + "priority = \"high\"\n") ==
        strings{"s.toml:5: entry \"ok\": field \"priority\" must be an integer from 0 to 9, not a string"});
  CHECK(errors_of(std::string(good) + "expires = 0\n") ==
        strings{"s.toml:5: entry \"ok\": expires 0 must be a positive number of seconds"});
  CHECK(errors_of(std::string(good) + "expires = \"5m\"\n") ==
        strings{"s.toml:5: entry \"ok\": field \"expires\" must be a number of seconds, not a string"});
  CHECK(errors_of(std::string(good) + "missed = \"all\"\n") ==
        strings{"s.toml:5: entry \"ok\": missed \"all\": expected \"run_once\" or \"skip\""});
  CHECK(errors_of(std::string(good) + "enabled = \"yes\"\n") ==
        strings{"s.toml:5: entry \"ok\": field \"enabled\" must be true or false, not a string"});
  CHECK(errors_of(std::string(good) + "queue = \"\"\n") ==
        strings{"s.toml:5: entry \"ok\": queue \"\" must not be empty"});
  CHECK(errors_of("[[entry]]\nname = 5\ntask = \"t\"\nevery = \"1m\"\n") ==
        strings{"s.toml:2: entry #1: field \"name\" must be a string, not an integer"});
  CHECK(errors_of("[[entry]]\nname = \"has space\"\ntask = \"t\"\nevery = \"1m\"\n") ==
        strings{"s.toml:2: entry #1: name \"has space\" may hold only letters, digits and \"_.:-\""});
  CHECK(errors_of(std::string(good) + "args = [1, inf]\n") ==
        strings{"s.toml:5: entry \"ok\": args[1]: inf has no JSON form; use a finite number or a string"});
  CHECK(errors_of(std::string(good) + "kwargs = { when = 2026-01-01 }\n") ==
        strings{"s.toml:5: entry \"ok\": kwargs.when: TOML dates and times have no JSON form; quote the value as "
                "a string"});
}

TEST_CASE("duplicate names point at the first use") {
  CHECK(errors_of(std::string(good) + "\n" + std::string(good)) ==
        strings{"s.toml:7: entry \"ok\": name \"ok\" is already used by the entry at line 2; names must be unique"});
}

TEST_CASE("all problems are collected, in file order") {
  auto errors = errors_of(R"(title = "mine"
[[entry]]
name = "a"
task = "t"
cron = "0 25 * * *"
timezone = "Nowhere/Zone"

[[entry]]
name = "b"
task = "t"
every = "1m"
colour = "red"
)");
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].find("s.toml:1: unknown top-level key \"title\"") == 0);
  CHECK(errors[1].find("s.toml:5: entry \"a\": cron \"0 25 * * *\": hour field \"25\"") == 0);
  CHECK(errors[2].find("s.toml:6: entry \"a\": unknown time zone \"Nowhere/Zone\"") == 0);
  CHECK(errors[3].find("s.toml:12: entry \"b\": unknown field \"colour\"") == 0);
}

TEST_CASE("file-level problems") {
  CHECK(errors_of("") == strings{"s.toml: no [[entry]] tables; nothing to schedule"});
  CHECK(errors_of("# only comments\n") == strings{"s.toml: no [[entry]] tables; nothing to schedule"});
  CHECK(errors_of("[entry]\nname = \"x\"\n") ==
        strings{"s.toml:1: \"entry\" must be written as [[entry]] tables, one per entry"});
  CHECK(errors_of("entry = 5\n") == strings{"s.toml:1: \"entry\" must be written as [[entry]] tables, one per entry"});
  auto syntax = errors_of("[[entry]]\nname = \"x\ntask = \"t\"\n");
  REQUIRE(syntax.size() == 1);
  CHECK(syntax[0].find("s.toml:2:") == 0);
  CHECK(syntax[0].find("TOML syntax error") != std::string::npos);
  auto redefined = errors_of("[[entry]]\nname = \"x\"\nname = \"y\"\n");
  CHECK(redefined[0].find("s.toml:3:") == 0);
}

TEST_CASE("value() throws with every message") {
  auto r = parse_schedule("", "s.toml");
  CHECK_THROWS_WITH_AS(r.value(), "s.toml: no [[entry]] tables; nothing to schedule", std::invalid_argument);
}

TEST_CASE("load_schedule_file reads a file and names it in errors") {
  const auto dir = std::filesystem::path(CELERIAC_BINARY_DIR) / "test_schedule_file";
  std::filesystem::create_directories(dir);
  const auto path = dir / "good.toml";
  {
    std::ofstream out(path);
    out << good;
  }
  auto r = load_schedule_file(path);
  REQUIRE(r.has_value());
  CHECK(r->size() == 1);

  const auto bad = dir / "bad.toml";
  {
    std::ofstream out(bad);
    out << good << "priority = 11\n";
  }
  auto b = load_schedule_file(bad);
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error().messages ==
        strings{bad.string() + ":5: entry \"ok\": priority 11 is out of range; use an integer from 0 to 9"});

  auto missing = load_schedule_file(dir / "missing.toml");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().messages[0].find((dir / "missing.toml").string() + ": cannot read the schedule file: ") ==
        0);
}

TEST_CASE("the shipped schedule.toml is valid") {
  auto r = load_schedule_file(std::filesystem::path(CELERIAC_SOURCE_DIR) / "schedule.toml");
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().to_string()));
  const auto& entries = *r;
  REQUIRE(entries.size() == 7);

  CHECK(entries[0].task == "celeriac.add");
  REQUIRE(entries[0].when.interval() != nullptr);
  CHECK(entries[0].when.interval()->period() == std::chrono::seconds{10});
  CHECK(entries[0].args_json == "[2, 3]");

  CHECK(entries[1].task == "celeriac.analytics.dashboard_stats");
  REQUIRE(entries[1].when.cron() != nullptr);
  CHECK(entries[1].when.cron()->text() == "*/5 * * * *");
  CHECK(entries[1].timezone_name == "America/New_York");
  CHECK(entries[1].queue == "analytics");

  CHECK(entries[2].task == "celeriac.llm.map_pending");
  REQUIRE(entries[2].when.interval() != nullptr);
  CHECK(entries[2].when.interval()->period() == std::chrono::minutes{1});
  CHECK(entries[2].queue == "llm");

  CHECK(entries[3].task == "celeriac.views.refresh");
  REQUIRE(entries[3].when.cron() != nullptr);
  CHECK(entries[3].when.cron()->text() == "0 * * * *");
  CHECK(entries[3].kwargs_json == "{\"view\": \"merchant_stats\"}");
  CHECK(entries[3].queue == "views");

  CHECK(entries[4].task == "celeriac.views.refresh");
  CHECK(entries[4].kwargs_json == "{\"view\": \"llm_analytics_summary\"}");
  CHECK(entries[5].task == "celeriac.analytics.daily_rollup");
  REQUIRE(entries[5].when.cron() != nullptr);
  CHECK(entries[5].when.cron()->text() == "15 0 * * *");
  CHECK(entries[6].task == "celeriac.maintenance.partitions");
  CHECK(entries[6].queue == "analytics");
}
