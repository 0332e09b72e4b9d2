// The PostgreSQL connection a task borrows for its run
// (tasks/common/task_database.hpp): runs one after another share one
// connection whichever thread runs them (a worker child's two executor
// threads), runs side by side get one each, and a dropped or closed
// connection is replaced.

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "support/task_db.hpp"
#include "tasks/common/task_database.hpp"

using namespace celeriac;

namespace {

app::task_context context_for(const std::string& id) {
  static const std::atomic<bool> never{false};
  app::task_request request;
  request.id = id;
  request.name = "t.db";
  return app::task_context(std::move(request), nullptr, &never);
}

int backend_pid(pqxx::connection& c) {
  pqxx::nontransaction tx{c};
  return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
}

// One run on a thread of its own: the backend its connection talks to.
int run_on_new_thread(const std::string& id) {
  return std::async(std::launch::async, [&id] {
           auto ctx = context_for(id);
           return backend_pid(tasks::task_connection(ctx));
         }).get();
}

}  // namespace

TEST_CASE("runs one after another share a connection, on whichever thread they run") {
  test::use_database(test::migrated_app_database("task_conn_shared"));
  tasks::close_idle_task_connections();
  const int first = run_on_new_thread("a");
  const int second = run_on_new_thread("b");
  CHECK(first == second);
  {
    auto ctx = context_for("c");
    CHECK(backend_pid(tasks::task_connection(ctx)) == first);
    // Within a run, the same connection every time.
    CHECK(&tasks::task_connection(ctx) == &tasks::task_connection(ctx));
  }
}

TEST_CASE("runs side by side get a connection each, and both are kept for later runs") {
  test::use_database(test::migrated_app_database("task_conn_parallel"));
  tasks::close_idle_task_connections();
  auto one = context_for("one");
  auto two = context_for("two");
  const int a = backend_pid(tasks::task_connection(one));
  const int b = std::async(std::launch::async, [&two] { return backend_pid(tasks::task_connection(two)); }).get();
  CHECK(a != b);
}

TEST_CASE("a dropped connection is replaced in the same run; closing the idle ones makes the next run connect anew") {
  test::use_database(test::migrated_app_database("task_conn_drop"));
  tasks::close_idle_task_connections();
  int before = 0;
  {
    auto ctx = context_for("x");
    before = backend_pid(tasks::task_connection(ctx));
    tasks::drop_task_connection(ctx);
    const int after_drop = backend_pid(tasks::task_connection(ctx));
    CHECK(after_drop != before);
    before = after_drop;
  }
  CHECK(run_on_new_thread("y") == before);
  tasks::close_idle_task_connections();
  CHECK(run_on_new_thread("z") != before);
}
