// The task events the supervisor sends for a dead child's running task.

#include <doctest/doctest.h>

#include "json/dump.hpp"
#include "worker/crash_events.hpp"

using namespace celeriac;
using namespace celeriac::worker;

namespace {

std::string text(const json::object& o) { return json::dump(json::value(o)); }

}  // namespace

TEST_CASE("a redelivered task is announced as task-rejected with requeue, as reject_on_worker_lost does") {
  crash_facts f;
  f.exit_text = "signal 9 (SIGKILL)";
  const auto ev = crash_event(decide_crash(f), "id-1", "app.job", 0);
  CHECK(ev.type == "task-rejected");
  CHECK(text(ev.fields) == R"({"uuid": "id-1", "requeue": true})");
}

TEST_CASE("a hard time limit is task-failed with TimeLimitExceeded(seconds) and a traceback") {
  crash_facts f;
  f.end = child_end::time_limit;
  f.hard_limit_seconds = 1;
  const auto ev = crash_event(decide_crash(f), "id-2", "app.spin", 1);
  CHECK(ev.type == "task-failed");
  CHECK(text(ev.fields) ==
        R"x({"uuid": "id-2", "exception": "TimeLimitExceeded(1.0)", "traceback": "Traceback (most recent call last):\n  File \"celeriac\", in app.spin\nTimeLimitExceeded: 1.0\n"})x");
}

TEST_CASE("a crash that fails or dead-letters the task is task-failed with WorkerLostError") {
  crash_facts f;
  f.exit_text = "signal 9 (SIGKILL)";
  f.requeue_on_crash = false;
  auto ev = crash_event(decide_crash(f), "id-3", "app.crash", 0);
  CHECK(ev.type == "task-failed");
  CHECK(ev.fields.at(1).second.as_string() == "WorkerLostError('Worker exited prematurely: signal 9 (SIGKILL)')");
  f.requeue_on_crash = true;
  f.crashes = f.max_crashes;
  ev = crash_event(decide_crash(f), "id-3", "app.crash", 0);
  CHECK(ev.type == "task-failed");
  CHECK(ev.fields.at(1).second.as_string() == "WorkerLostError('Worker exited prematurely: signal 9 (SIGKILL)')");
}
