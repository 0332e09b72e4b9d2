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
