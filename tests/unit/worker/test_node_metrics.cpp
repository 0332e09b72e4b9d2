// The worker node's metrics: the shared table across fork, and the
// exposition built from a snapshot, byte for byte where it matters.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "worker/metrics_hooks.hpp"
#include "worker/node_exposition.hpp"
#include "worker/node_metrics.hpp"

using namespace celeriac::worker;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("counts made in forked children reach the parent's table") {
  node_metrics table({"tasks.b", "tasks.a"}, 4);
  for (int child = 0; child < 3; ++child) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      table.task_finished("tasks.a", task_outcome::success, 0.002);
      table.task_finished("tasks.a", task_outcome::failure, 2.0);
      table.task_finished("tasks.b", task_outcome::revoked, std::nullopt);
      table.task_finished("not.registered", task_outcome::success, 1.0);  // ignored
      table.set_job_store_backlog(static_cast<std::size_t>(child), 10 + child);
      ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    table.child_started();
  }
  table.child_restarted(restart_reason::crashed);
  const node_snapshot s = table.snapshot();
  REQUIRE(s.tasks.size() == 2);
  CHECK(s.tasks[0].name == "tasks.a");  // sorted
  CHECK(s.tasks[0].outcomes[static_cast<std::size_t>(task_outcome::success)] == 3);
  CHECK(s.tasks[0].outcomes[static_cast<std::size_t>(task_outcome::failure)] == 3);
  CHECK(s.tasks[0].runtime_buckets[1] == 3);   // 0.002 <= 0.005
  CHECK(s.tasks[0].runtime_buckets[9] == 3);   // 2.0 <= 2.5
  CHECK(s.tasks[0].runtime_sum_seconds == doctest::Approx(3 * 2.002));
  CHECK(s.tasks[1].outcomes[static_cast<std::size_t>(task_outcome::revoked)] == 3);
  CHECK(s.children_started == 3);
  CHECK(s.restarts[static_cast<std::size_t>(restart_reason::crashed)] == 1);
  REQUIRE(s.job_store_backlog);
  CHECK(*s.job_store_backlog == 10 + 11 + 12);
  table.set_job_store_backlog(0, std::nullopt);
  table.set_job_store_backlog(1, std::nullopt);
  table.set_job_store_backlog(2, std::nullopt);
  CHECK(!table.snapshot().job_store_backlog);
}

TEST_CASE("runtimes on a bucket bound count in that bucket; above every bound in the last") {
  node_metrics table({"t"}, 1);
  table.task_finished("t", task_outcome::success, 1.0);
  table.task_finished("t", task_outcome::success, 7200.0);
  table.task_finished("t", task_outcome::success, -1.0);  // a clock step: counted as 0
  const auto s = table.snapshot();
  CHECK(s.tasks[0].runtime_buckets[8] == 1);  // le="1"
  CHECK(s.tasks[0].runtime_buckets.back() == 1);
  CHECK(s.tasks[0].runtime_buckets[0] == 1);
}

TEST_CASE("hooks count nothing without an installed table, and the right outcome with one") {
  outcome o;
  o.runtime_seconds = 0.5;
  count_task_outcome("t", o);  // no table: nothing happens
  node_metrics table({"t"}, 2);
  node_metrics::install(&table);
  count_task_outcome("t", o);
  o.what = outcome::kind::failure;
  count_task_outcome("t", o);
  o.what = outcome::kind::retry;
  count_task_outcome("t", o);
  o.what = outcome::kind::success;
  o.terminated = true;
  count_task_outcome("t", o);
  count_task_revoked("t");
  count_child_started();
  table.set_job_store_backlog(1, 5);
  count_child_exit(1, child_exit::time_limit);
  count_child_exit(0, child_exit::shutdown);
  const auto s = table.snapshot();
  node_metrics::install(nullptr);
  CHECK(s.tasks[0].outcomes == std::array<std::uint64_t, task_outcome_count>{1, 1, 1, 2});
  std::uint64_t ran = 0;
  for (auto n : s.tasks[0].runtime_buckets) ran += n;
  CHECK(ran == 4);  // the revoke that never ran has no runtime
  CHECK(s.children_started == 1);
  CHECK(s.restarts == std::array<std::uint64_t, restart_reason_count>{0, 1, 0});
  CHECK(!s.job_store_backlog);  // the dead child's backlog went with it
}

TEST_CASE("the exposition: tasks that ran, every outcome of them, pool and Redis reads") {
  node_snapshot snap;
  task_counts add;
  add.name = "celeriac.add";
  add.outcomes = {5, 1, 0, 0};
  add.runtime_buckets[0] = 6;
  add.runtime_sum_seconds = 0.0003;
  task_counts idle;
  idle.name = "celeriac.idle";
  snap.tasks = {add, idle};
  snap.children_started = 3;
  snap.restarts = {1, 0, 0};
  pool_view pool;
  pool.node_name = "w1@host \"x\"";
  pool.children = 2;
  pool.tasks_running = 1;
  pool.started_unix_ms = 1'700'000'000'500;
  broker_reads br;
  br.roundtrip_seconds = 0.00025;
  br.queues = {{"celery", 12, 2}, {"csv", 0, 0}};
  br.dead_letters = 3;
  br.messages_held = 7;
  const std::string text = render_node_metrics(snap, pool, br);
  CHECK(contains(text, "# TYPE celeriac_tasks_total counter\n"
                       "celeriac_tasks_total{task=\"celeriac.add\",outcome=\"failure\"} 1\n"
                       "celeriac_tasks_total{task=\"celeriac.add\",outcome=\"retry\"} 0\n"
                       "celeriac_tasks_total{task=\"celeriac.add\",outcome=\"revoked\"} 0\n"
                       "celeriac_tasks_total{task=\"celeriac.add\",outcome=\"success\"} 5\n# HELP"));
  CHECK(!contains(text, "celeriac.idle"));
  CHECK(contains(text, "celeriac_task_runtime_seconds_bucket{task=\"celeriac.add\",le=\"0.001\"} 6\n"));
  CHECK(contains(text, "celeriac_task_runtime_seconds_bucket{task=\"celeriac.add\",le=\"3600\"} 6\n"
                       "celeriac_task_runtime_seconds_bucket{task=\"celeriac.add\",le=\"+Inf\"} 6\n"
                       "celeriac_task_runtime_seconds_sum{task=\"celeriac.add\"} 0.0003\n"
                       "celeriac_task_runtime_seconds_count{task=\"celeriac.add\"} 6\n"));
  CHECK(contains(text, "celeriac_worker_info{node=\"w1@host \\\"x\\\"\"} 1\n"));
  CHECK(contains(text, "celeriac_worker_start_time_seconds 1700000000.5\n"));
  CHECK(contains(text, "celeriac_worker_children 2\n"));
  CHECK(contains(text, "celeriac_tasks_running 1\n"));
  CHECK(contains(text, "celeriac_worker_children_started_total 3\n"));
  CHECK(contains(text, "celeriac_worker_child_restarts_total{reason=\"crashed\"} 1\n"
                       "celeriac_worker_child_restarts_total{reason=\"recycled\"} 0\n"
                       "celeriac_worker_child_restarts_total{reason=\"time_limit\"} 0\n"));
  CHECK(!contains(text, "celeriac_job_store_backlog"));
  CHECK(contains(text, "celeriac_redis_up 1\n"));
  CHECK(contains(text, "celeriac_redis_roundtrip_seconds 0.00025\n"));
  CHECK(contains(text, "celeriac_queue_length{queue=\"celery\"} 12\nceleriac_queue_length{queue=\"csv\"} 0\n"));
  CHECK(contains(text, "celeriac_queue_delayed{queue=\"celery\"} 2\n"));
  CHECK(contains(text, "celeriac_messages_held 7\n"));
  CHECK(contains(text, "celeriac_dead_letters 3\n"));

  snap.job_store_backlog = 42;
  const std::string down = render_node_metrics(snap, pool, std::nullopt);
  CHECK(contains(down, "celeriac_job_store_backlog 42\n"));
  CHECK(contains(down, "celeriac_redis_up 0\n"));
  CHECK(!contains(down, "celeriac_queue_length"));
  CHECK(!contains(down, "celeriac_dead_letters"));
}
