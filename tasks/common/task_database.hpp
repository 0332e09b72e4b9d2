#pragma once
// The PostgreSQL connection a task works on: borrowed for the run from
// the process's task connections and given back when it ends, so a worker
// child keeps one open between its tasks (which run one at a time, on
// either of its executor's two threads); opened on first use from the
// worker's --database URL and opened again after it breaks.
//
//   pqxx::connection& c = tasks::task_connection(ctx);
//   pqxx::work tx{c}; ...
//
// A task that loses PostgreSQL mid-way calls retry_on_database_loss(ctx, e),
// which asks the worker to run it again later (the message is not lost).

#include <chrono>
#include <exception>

#include <pqxx/connection>

#include "app/task_context.hpp"
#include "app/task_error.hpp"

namespace celeriac::tasks {

// How long a task waits before its next delivery tries PostgreSQL again.
inline constexpr std::chrono::seconds database_retry_countdown{30};

// This run's connection, open. Throws app::task_error("RuntimeError")
// when the worker has no --database, and retries the task (see
// task_context::retry) when the server cannot be reached.
pqxx::connection& task_connection(const app::task_context& ctx);

// Drops this run's connection (after an error that may have left it in
// an unknown state); the next task_connection() opens a new one.
void drop_task_connection(const app::task_context& ctx) noexcept;

// Closes the connections no run has borrowed now: the next task connects
// anew (after a change of the database's settings, such as its
// search_path, that only new sessions see).
void close_idle_task_connections() noexcept;

// Calls ctx.retry() when `e` says the connection to PostgreSQL broke (the
// server went away or restarted); returns otherwise, so the caller can
// rethrow. Drops the connection either way it was broken.
void retry_on_database_loss(const app::task_context& ctx, const std::exception& e);

// Runs f(): what it throws reaches the worker as it should — a task_error
// or a retry request as is, a lost connection to PostgreSQL as a retry in
// database_retry_countdown, anything else as a failure.
template <class F>
auto with_database_retry(const app::task_context& ctx, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const app::retry_request&) {
    throw;
  } catch (const app::task_error&) {
    throw;
  } catch (const std::exception& e) {
    retry_on_database_loss(ctx, e);
    throw;
  }
}

}  // namespace celeriac::tasks
