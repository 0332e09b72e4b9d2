// The command line: a bad schedule file, --dry-run, usage errors.

#include "beat_test_util.hpp"

using namespace celeriac;
using namespace celeriac::test;

namespace {

struct run_result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

run_result run(std::vector<std::string> args, const temp_dir& dir) {
  args.insert(args.begin(), celeriac_bin());
  static int n = 0;
  child_process child(std::move(args), dir / ("run" + std::to_string(++n) + ".log"));
  auto code = child.wait_for(10s);
  REQUIRE_MESSAGE(code.has_value(), "celeriac did not exit: " << child.log());
  return {*code, child.log()};
}

}  // namespace

TEST_CASE("a bad schedule file: exit 65, every problem as FILE:LINE: on stderr, no Redis touched") {
  temp_dir dir;
  const auto file = dir / "bad.toml";
  write_file(file, R"([[entry]]
name = "a"
task = "t"
cron = "61 * * * *"

[[entry]]
name = "b"
task = "t"
every = "1s"
priority = 12
)");
  // The broker URL points nowhere: validation comes first.
  auto r = run({"beat", "-s", file.string(), "-b", "redis://127.0.0.1:1/0"}, dir);
  INFO(r.output);
  CHECK(r.code == 65);
  CHECK(r.output.find(file.string() + ":4: entry \"a\": cron \"61 * * * *\"") != std::string::npos);
  CHECK(r.output.find(file.string() + ":10: entry \"b\": priority 12 is out of range") != std::string::npos);
  CHECK(r.output.find("is not a valid schedule (2 problems); nothing was started") != std::string::npos);

  auto dry = run({"beat", "-s", file.string(), "--dry-run"}, dir);
  CHECK(dry.code == 65);

  auto missing = run({"beat", "-s", (dir / "nope.toml").string(), "--dry-run"}, dir);
  INFO(missing.output);
  CHECK(missing.code == 65);
  CHECK(missing.output.find("nope.toml") != std::string::npos);
}

TEST_CASE("--dry-run validates and prints the next N fire times without Redis") {
  temp_dir dir;
  const auto file = dir / "ok.toml";
  write_file(file, R"([[entry]]
name = "nightly"
task = "t.nightly"
cron = "30 2 * * *"
timezone = "America/New_York"
)");
  auto r = run({"beat", "-s", file.string(), "--dry-run", "--next", "3", "-b", "redis://127.0.0.1:1/0"}, dir);
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("entry \"nightly\" (line 1): task t.nightly, cron \"30 2 * * *\", timezone America/New_York") !=
        std::string::npos);
  std::size_t fire_lines = 0;
  for (std::size_t pos = r.output.find("  20"); pos != std::string::npos; pos = r.output.find("\n  20", pos + 1))
    ++fire_lines;
  CHECK(fire_lines == 3);
  CHECK(r.output.find("1 entry valid (0 disabled), 0 warnings") != std::string::npos);

  auto schedule_toml = run({"beat", "-s", CELERIAC_SOURCE_DIR "/schedule.toml", "--dry-run"}, dir);
  CHECK_MESSAGE(schedule_toml.code == 0, schedule_toml.output);
}

TEST_CASE("usage errors exit 64 and say what to fix; --help exits 0") {
  temp_dir dir;
  const auto file = dir / "ok.toml";
  write_file(file, "[[entry]]\nname = \"a\"\ntask = \"t\"\nevery = \"1s\"\n");
  const std::string f = file.string();
  struct usage_case {
    std::vector<std::string> args;
    std::string_view says;
  };
  const usage_case cases[] = {
      {{"beat"}, "missing --schedule FILE"},
      {{"beat", "-s", f, "--lease-ms", "10"}, "--lease-ms must be between 300 and 600000"},
      {{"beat", "-s", f, "--name", "a b"}, "--name \"a b\" may hold only"},
      {{"beat", "-s", f, "-b", "http://x"}, "bad --broker URL"},
      {{"beat", "-s", f, "--bogus"}, "unrecognised option"},
      {{"beat", "-s", f, "-l", "loud"}, "unknown log level 'loud'"},
      {{"beat", "-s", f, "--next", "3"}, "--next goes with --dry-run"},
  };
  for (const auto& uc : cases) {
    auto r = run(uc.args, dir);
    INFO(r.output);
    CHECK(r.code == 64);
    CHECK(r.output.find(uc.says) != std::string::npos);
  }
  auto help = run({"beat", "--help"}, dir);
  CHECK(help.code == 0);
  CHECK(help.output.find("--lease-ms") != std::string::npos);
  CHECK(help.output.find("SIGHUP") != std::string::npos);
}
