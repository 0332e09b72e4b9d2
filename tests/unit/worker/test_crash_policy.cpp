// What happens to the message a child was running when it died.

#include <doctest/doctest.h>

#include <signal.h>

#include "worker/crash_policy.hpp"

using namespace celeriac::worker;

TEST_CASE("a crash redelivers until the message has taken down max_crashes children") {
  crash_facts f;
  f.exit_text = "signal 9 (SIGKILL)";
  f.max_crashes = 3;
  f.crashes = 1;
  CHECK(decide_crash(f).what == crash_decision::action::redeliver);
  f.crashes = 2;
  CHECK(decide_crash(f).what == crash_decision::action::redeliver);
  f.crashes = 3;
  auto d = decide_crash(f);
  CHECK(d.what == crash_decision::action::dead_letter);
  CHECK(d.exc_type == "WorkerLostError");
  CHECK(d.exc_module == "billiard.exceptions");
  CHECK(d.exc_message == "Worker exited prematurely: signal 9 (SIGKILL)");
}

TEST_CASE("--no-requeue-on-crash fails the running task with Celery's WorkerLostError") {
  crash_facts f;
  f.exit_text = "signal 11 (SIGSEGV)";
  f.requeue_on_crash = false;
  auto d = decide_crash(f);
  CHECK(d.what == crash_decision::action::fail);
  CHECK(d.exc_type == "WorkerLostError");
  CHECK(d.exc_message == "Worker exited prematurely: signal 11 (SIGSEGV)");
  f.crashes = 3;  // the cap still keeps poison for an operator
  CHECK(decide_crash(f).what == crash_decision::action::dead_letter);
}

TEST_CASE("a hard time limit fails with TimeLimitExceeded(seconds), never redelivered") {
  crash_facts f;
  f.end = child_end::time_limit;
  f.hard_limit_seconds = 2.5;
  f.crashes = 1;
  auto d = decide_crash(f);
  CHECK(d.what == crash_decision::action::fail);
  CHECK(d.exc_type == "TimeLimitExceeded");
  CHECK(d.exc_message == "2.5");
  f.hard_limit_seconds = 1;
  CHECK(decide_crash(f).exc_message == "1.0");
}

TEST_CASE("billiard's wording of a child's end") {
  CHECK(billiard_exit_text(SIGKILL) == "signal 9 (SIGKILL)");  // WIFSIGNALED status = the signal number
  CHECK(billiard_exit_text(3 << 8) == "exitcode 3");
}
