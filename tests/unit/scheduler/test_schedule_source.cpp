// schedule_source: change detection for reloads, and the change summary.

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "scheduler/schedule_source.hpp"

using namespace celeriac::scheduler;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "celeriac-source-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

void write(const std::filesystem::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<schedule_entry> entries_of(std::string_view text) {
  auto r = parse_schedule(text, "s.toml");
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().to_string()));
  return std::move(*r);
}

constexpr std::string_view one = "[[entry]]\nname = \"a\"\ntask = \"t\"\nevery = \"1s\"\n";

}  // namespace

TEST_CASE("changed(): before the first load, after an edit, after removal; not after a load") {
  temp_dir dir;
  const auto file = dir.path / "s.toml";
  write(file, one);
  schedule_source source(file);
  CHECK(source.changed());
  auto loaded = source.load();
  REQUIRE(loaded.has_value());
  CHECK_FALSE(source.changed());

  write(file, std::string(one) + "args = [1]\n");  // size changes
  CHECK(source.changed());
  REQUIRE(source.load().has_value());
  CHECK_FALSE(source.changed());

  write(file, "not toml = = =\n");
  CHECK(source.changed());
  auto bad = source.load();
  CHECK_FALSE(bad.has_value());
  CHECK_FALSE(source.changed());  // the bad version is seen once, not reported every poll

  std::filesystem::remove(file);
  CHECK(source.changed());
}

TEST_CASE("describe_changes names added, removed and changed entries") {
  auto before = entries_of(R"([[entry]]
name = "a"
task = "t"
every = "1s"

[[entry]]
name = "b"
task = "t"
every = "1s"
)");
  auto after = entries_of(R"(# a comment shifts the lines: not a change
[[entry]]
name = "a"
task = "t"
every = "1s"

[[entry]]
name = "c"
task = "t"
every = "1s"
)");
  CHECK(describe_changes(before, before) == "");
  CHECK(describe_changes(before, after) == "added c; removed b");
  auto edited = before;
  edited[1].args_json = "[1]";
  CHECK(describe_changes(before, edited) == "changed b");
  CHECK_FALSE(same_entry(before[1], edited[1]));
  CHECK(same_entry(before[0], after[0]));
}
