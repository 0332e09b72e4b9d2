// Time limit sources, most specific first, hard and soft each on its own.

#include <doctest/doctest.h>

#include "celery/message_builder.hpp"
#include "worker/time_limits.hpp"

using namespace celeriac;

namespace {

celery::task_message message(std::optional<double> hard, std::optional<double> soft) {
  celery::message_options o;
  o.time_limit = hard;
  o.soft_time_limit = soft;
  return celery::make_task_message("t", {}, {}, o);
}

}  // namespace

TEST_CASE("the message header wins, then the task's default, then the worker's flags") {
  worker::worker_settings s;
  s.time_limit = 100;
  s.soft_time_limit = 90;
  app::task_options task;
  task.time_limit = 50;

  auto none = worker::resolve_time_limits(message(std::nullopt, std::nullopt), task, s);
  CHECK(*none.hard == 50);   // registration default
  CHECK(*none.soft == 90);   // worker flag: the task sets no soft default
  auto header = worker::resolve_time_limits(message(5, std::nullopt), task, s);
  CHECK(*header.hard == 5);
  CHECK(*header.soft == 90);  // a null header element defers, element by element
  auto both = worker::resolve_time_limits(message(std::nullopt, 2), {}, {});
  CHECK_FALSE(both.hard);
  CHECK(*both.soft == 2);
}

TEST_CASE("zero or negative limits count as none, as Celery's falsy check") {
  worker::worker_settings s;
  s.time_limit = 0;
  auto r = worker::resolve_time_limits(message(0, -1), {}, s);
  CHECK_FALSE(r.hard);
  CHECK_FALSE(r.soft);
}

TEST_CASE("a soft limit at or above the hard one is kept: it just never fires before the hard one") {
  auto r = worker::resolve_time_limits(message(2, 5), {}, {});
  CHECK(*r.hard == 2);
  CHECK(*r.soft == 5);
}

TEST_CASE("deadlines count from the start of the run") {
  const auto start = std::chrono::steady_clock::time_point(std::chrono::seconds(1000));
  CHECK(*worker::deadline_after(start, 2.5) == start + std::chrono::milliseconds(2500));
  CHECK_FALSE(worker::deadline_after(start, std::nullopt));
  CHECK_FALSE(worker::deadline_after(start, 0.0));
  // Centuries are cut to decades instead of overflowing the clock.
  CHECK(*worker::deadline_after(start, 1e300) > start + std::chrono::hours(24 * 365 * 30));
}

TEST_CASE("TimeLimitExceeded is stored as Celery stores it: the seconds as a number") {
  celery::meta_context ctx;
  ctx.date_done = util::wall_time{};
  const std::string text = celery::encode_result_meta(worker::time_limit_exceeded_meta("id-1", 5, std::nullopt, ctx));
  CHECK(text.find(R"("result": {"exc_type": "TimeLimitExceeded", "exc_message": [5.0], )"
                  R"("exc_module": "billiard.exceptions"})") != std::string::npos);
  CHECK(text.find(R"("status": "FAILURE")") != std::string::npos);
}

TEST_CASE("remote time limits survive the trip through the node's shared text") {
  worker::time_limit_overrides limits;
  limits["celeriac.sleep"] = worker::time_limits{.hard = 1.5, .soft = std::nullopt};
  limits["celeriac.add"] = worker::time_limits{.hard = std::nullopt, .soft = 0.25};
  limits["celeriac.echo"] = worker::time_limits{};
  const std::string text = worker::encode_time_limit_overrides(limits);
  CHECK(text == "celeriac.add\t0.25\t\nceleriac.echo\t\t\nceleriac.sleep\t\t1.5\n");
  const auto back = worker::decode_time_limit_overrides(text);
  REQUIRE(back.size() == 3);
  CHECK(back.at("celeriac.sleep").hard == 1.5);
  CHECK(!back.at("celeriac.sleep").soft);
  CHECK(back.at("celeriac.add").soft == 0.25);
  CHECK(!back.at("celeriac.echo").hard);
}

TEST_CASE("unreadable lines of the shared time limits are skipped") {
  const auto back = worker::decode_time_limit_overrides("no tabs\n\tx\t1\nok\t\t2\nbad\tx\t\ntrailing\t1");
  REQUIRE(back.size() == 1);
  CHECK(back.at("ok").hard == 2.0);
}
