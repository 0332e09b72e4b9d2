// Every task the shipped schedule.toml sends is registered by the worker,
// and the job families' worker options are checked before anything runs.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "scheduler/schedule_file.hpp"
#include "tasks/task_families.hpp"

using namespace celeriac;

TEST_CASE("every entry of the shipped schedule.toml names a registered task") {
  app::task_registry registry;
  tasks::register_all_tasks(registry, {});
  auto r = scheduler::load_schedule_file(std::filesystem::path(CELERIAC_SOURCE_DIR) / "schedule.toml");
  REQUIRE(r.has_value());
  for (const auto& e : *r) CHECK_MESSAGE(registry.find(e.task) != nullptr, e.task);
  for (const char* name : {"celeriac.llm.map_pending", "celeriac.llm.map_merchant", "celeriac.views.refresh",
                           "celeriac.views.refresh_all", "celeriac.analytics.dashboard_stats",
                           "celeriac.analytics.daily_rollup", "celeriac.maintenance.partitions"})
    CHECK_MESSAGE(registry.find(name) != nullptr, name);
}

TEST_CASE("LLM provider options are checked at start") {
  app::task_registry registry;
  tasks::family_options half;
  half.llm_base_url = "http://127.0.0.1:9/v1";
  CHECK_THROWS_WITH_AS(tasks::register_all_tasks(registry, half), doctest::Contains("--llm-model"),
                       std::invalid_argument);

  tasks::family_options both;
  both.llm_base_url = "http://127.0.0.1:9/v1";
  both.llm_model = "m";
  both.llm_config = "/nonexistent.toml";
  CHECK_THROWS_AS(tasks::register_all_tasks(registry, both), std::invalid_argument);

  auto path = std::filesystem::temp_directory_path() / "celeriac-bad-llm.toml";
  std::ofstream(path) << "[[provider]]\nname = \"x\"\nbase_url = \"ftp://nope\"\nmodel = \"m\"\n";
  tasks::family_options bad;
  bad.llm_config = path.string();
  CHECK_THROWS_WITH_AS(tasks::register_all_tasks(registry, bad), doctest::Contains("celeriac-bad-llm.toml"),
                       std::invalid_argument);
  std::filesystem::remove(path);

  tasks::family_options single;
  single.llm_base_url = "http://127.0.0.1:9/v1";
  single.llm_model = "m";
  tasks::register_all_tasks(registry, single);
  CHECK(tasks::describe_llm_providers().find("m at http://127.0.0.1:9/v1") != std::string::npos);
  tasks::register_all_tasks(registry, {});  // back to the default for other tests
  CHECK(tasks::describe_llm_providers().find("heuristic") != std::string::npos);
}
