// Running a task function directly against a real PostgreSQL: a migrated
// database on the shared test server, the process's task resources
// pointing at it, and a task context for a call.
#pragma once

#include <unistd.h>

#include <atomic>
#include <string>

#include <pqxx/pqxx>

#include "app/task_context.hpp"
#include "app/task_registry.hpp"
#include "app/task_resources.hpp"
#include "pg/migrations.hpp"
#include "support/pg_server.hpp"

namespace celeriac::test {

// A new database with celeriac's and the app tables; returns its URL.
inline std::string migrated_app_database(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  {
    pqxx::connection admin{shared_pg_server().url()};
    pqxx::nontransaction tx{admin};
    tx.exec("CREATE DATABASE " + tx.quote_name(name));
  }
  const std::string url = shared_pg_server().url(name);
  pqxx::connection c{url};
  pg::migrate(c, pg::migrate_options{.with_app_tables = true});
  return url;
}

// Points the process's task resources at the database `url` (before any
// thread runs a task: the resources are not guarded).
inline void use_database(const std::string& url) {
  app::task_resources r;
  r.database_url = url;
  app::set_process_task_resources(r);
}

// Calls a registered task as the worker would (any thread; each run
// borrows a task connection, and runs at the same time borrow one each).
inline json::value run_task(const app::task_registry& registry, const std::string& name, json::array args = {},
                            json::object kwargs = {}) {
  static const std::atomic<bool> never{false};
  app::task_request request;
  request.id = "test-" + name;
  request.name = name;
  app::task_context ctx(std::move(request), nullptr, &never);
  const app::task_definition* t = registry.find(name);
  if (!t) throw std::runtime_error("no task " + name);
  return t->fn(ctx, args, kwargs);
}

// use_database(url), then run_task.
inline json::value call_task(const app::task_registry& registry, const std::string& url, const std::string& name,
                             json::array args = {}, json::object kwargs = {}) {
  use_database(url);
  return run_task(registry, name, std::move(args), std::move(kwargs));
}

inline void exec_sql(const std::string& url, const std::string& sql) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  tx.exec(sql);
}

inline pqxx::result query(const std::string& url, const std::string& sql) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  return tx.exec(sql);
}

}  // namespace celeriac::test
