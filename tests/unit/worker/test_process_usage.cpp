#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "celery/inspect_replies.hpp"
#include "worker/process_usage.hpp"

using namespace celeriac;

namespace {

void burn_cpu(std::chrono::milliseconds how_long) {
  const auto until = std::chrono::steady_clock::now() + how_long;
  volatile unsigned long x = 0;
  while (std::chrono::steady_clock::now() < until) x = x + 1;
}

}  // namespace

TEST_CASE("own_usage reads this process's CPU time apart from its system time") {
  const celery::rusage_figures before = worker::own_usage();
  burn_cpu(std::chrono::milliseconds(50));
  const celery::rusage_figures after = worker::own_usage();
  CHECK(after.utime > before.utime);
  CHECK(after.utime >= 0);
  CHECK(after.stime >= 0);
  CHECK(after.minflt > 0);
  CHECK(after.maxrss > 0);
}

TEST_CASE("reaped_children_usage counts a child once it is waited for") {
  const celery::rusage_figures before = worker::reaped_children_usage();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    burn_cpu(std::chrono::milliseconds(50));
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  const celery::rusage_figures after = worker::reaped_children_usage();
  CHECK(after.utime + after.stime > before.utime + before.stime);
  CHECK(after.minflt > before.minflt);
}

TEST_CASE("shared_usage gives back every field as stored, to the microsecond") {
  celery::rusage_figures r;
  r.utime = 12.345678;
  r.stime = 0.000001;
  r.maxrss = 3;
  r.ixrss = 4;
  r.idrss = 5;
  r.isrss = 6;
  r.minflt = 7;
  r.majflt = 8;
  r.nswap = 9;
  r.inblock = 10;
  r.oublock = 11;
  r.msgsnd = 12;
  r.msgrcv = 13;
  r.nsignals = 14;
  r.nvcsw = 15;
  r.nivcsw = 16;
  worker::shared_usage shared;
  const celery::rusage_figures zero = shared.load();
  CHECK(zero.utime == 0);
  CHECK(zero.nivcsw == 0);
  shared.store(r);
  const celery::rusage_figures back = shared.load();
  CHECK(back.utime == doctest::Approx(12.345678).epsilon(1e-12));
  CHECK(back.stime == doctest::Approx(0.000001).epsilon(1e-12));
  CHECK(back.maxrss == 3);
  CHECK(back.ixrss == 4);
  CHECK(back.idrss == 5);
  CHECK(back.isrss == 6);
  CHECK(back.minflt == 7);
  CHECK(back.majflt == 8);
  CHECK(back.nswap == 9);
  CHECK(back.inblock == 10);
  CHECK(back.oublock == 11);
  CHECK(back.msgsnd == 12);
  CHECK(back.msgrcv == 13);
  CHECK(back.nsignals == 14);
  CHECK(back.nvcsw == 15);
  CHECK(back.nivcsw == 16);
}
