#include <doctest/doctest.h>

#include "app/task_error.hpp"
#include "json/dump.hpp"
#include "tasks/builtin_tasks.hpp"

using namespace celeriac;

namespace {
json::value run(const app::task_registry& reg, std::string_view name, json::array args, json::object kwargs = {}) {
  const app::task_definition* def = reg.find(name);
  REQUIRE(def != nullptr);
  app::task_request request;
  request.id = "id";
  request.name = std::string(name);
  app::task_context ctx(request, nullptr, nullptr);
  return def->fn(ctx, args, kwargs);
}
}  // namespace

TEST_CASE("built-in tasks do what their Python twins do") {
  app::task_registry reg;
  tasks::register_builtin_tasks(reg);
  CHECK(run(reg, "celeriac.noop", {}).is_null());
  CHECK(run(reg, "celeriac.add", {2, 3}) == json::value(5));
  CHECK(run(reg, "celeriac.add", {2, 0.5}) == json::value(2.5));
  CHECK(run(reg, "celeriac.add", {"a", "b"}) == json::value("ab"));
  CHECK(run(reg, "celeriac.add", {}, {{"x", 1}, {"y", 2}}) == json::value(3));
  CHECK(json::dump(run(reg, "celeriac.echo", {1, "two"}, {{"k", true}})) ==
        R"({"args": [1, "two"], "kwargs": {"k": true}})");
  CHECK(run(reg, "celeriac.sleep", {0.01}).is_null());
  CHECK_THROWS_WITH_AS(run(reg, "celeriac.fail", {"boom"}), "boom", app::task_error);
  CHECK_THROWS_AS(run(reg, "celeriac.add", {1}), app::task_error);
  CHECK_THROWS_AS(run(reg, "celeriac.noop", {1}), app::task_error);
  CHECK(reg.find("celeriac.nope") == nullptr);
  CHECK(reg.names().size() == 5);
}
