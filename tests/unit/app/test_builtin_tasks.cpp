#include <doctest/doctest.h>

#include "app/task_error.hpp"
#include "json/dump.hpp"
#include "tasks/builtin_tasks.hpp"
#include "util/clock.hpp"

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
  CHECK(reg.names().size() == 6);
}

TEST_CASE("celeriac.started_at returns the wall-clock time it ran at, in float seconds") {
  app::task_registry reg;
  tasks::register_builtin_tasks(reg);
  const double before = util::unix_seconds(util::wall_now());
  const json::value got = run(reg, "celeriac.started_at", {});
  const double after = util::unix_seconds(util::wall_now());
  REQUIRE(got.is_number());
  CHECK(got.as_double() >= before);
  CHECK(got.as_double() <= after);
  // One optional argument (the caller's send time, say) is taken and not used.
  CHECK(run(reg, "celeriac.started_at", {1234.5}).is_number());
  CHECK(run(reg, "celeriac.started_at", {}, {{"sent", "label"}}).is_number());
  CHECK_THROWS_AS(run(reg, "celeriac.started_at", {1, 2}), app::task_error);
}
