#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include "worker/task_totals.hpp"

using celeriac::worker::task_totals;

TEST_CASE("task totals: each slot counts in its own row, the node's sum covers every slot") {
  task_totals t({"b.task", "a.task", "c.task", "a.task"}, 3);
  REQUIRE(t.index_of("a.task"));
  REQUIRE(t.index_of("b.task"));
  CHECK_FALSE(t.index_of("not.registered"));
  CHECK(t.totals().empty());
  const auto a = *t.index_of("a.task");
  const auto b = *t.index_of("b.task");
  t.count(0, a);
  t.count(2, a);
  t.count(2, a);
  t.count(1, b);
  t.count(7, b);   // no such slot: ignored
  t.count(0, 99);  // no such name: ignored
  const auto totals = t.totals();
  REQUIRE(totals.size() == 2);  // c.task never started: not listed
  CHECK(totals[0] == std::pair<std::string, std::uint64_t>{"a.task", 3});
  CHECK(totals[1] == std::pair<std::string, std::uint64_t>{"b.task", 1});
  CHECK(t.all() == 4);
}

TEST_CASE("task totals: a forked child's counts stay after it exits") {
  task_totals t({"celeriac.echo"}, 2);
  const auto echo = *t.index_of("celeriac.echo");
  t.count(0, echo);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (int i = 0; i < 5; ++i) t.count(1, echo);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  const auto totals = t.totals();
  REQUIRE(totals.size() == 1);
  CHECK(totals[0].second == 6);
  CHECK(t.all() == 6);
}
