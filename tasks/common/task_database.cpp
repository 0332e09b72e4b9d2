#include "tasks/common/task_database.hpp"

#include <memory>

#include <fmt/format.h>
#include <pqxx/except>

#include "app/task_error.hpp"
#include "pg/conninfo.hpp"

namespace celeriac::tasks {
namespace {

struct thread_connection {
  std::string url;
  std::unique_ptr<pqxx::connection> conn;
};

thread_connection& this_thread_connection() {
  thread_local thread_connection tc;
  return tc;
}

}  // namespace

pqxx::connection& task_connection(const app::task_context& ctx) {
  const auto& url = ctx.resources().database_url;
  if (!url)
    throw app::task_error("RuntimeError",
                          fmt::format("task {} needs PostgreSQL: start the worker with --database URL (or "
                                      "CELERIAC_DATABASE_URL)",
                                      ctx.request().name));
  thread_connection& tc = this_thread_connection();
  if (tc.conn && (tc.url != *url || !tc.conn->is_open())) tc.conn.reset();
  if (!tc.conn) {
    try {
      tc.conn = std::make_unique<pqxx::connection>(*url);
      tc.url = *url;
    } catch (const pqxx::broken_connection& e) {
      ctx.retry(database_retry_countdown,
                fmt::format("PostgreSQL {} cannot be reached: {}", pg::redact_conninfo(*url), e.what()));
    }
  }
  return *tc.conn;
}

void drop_task_connection() noexcept { this_thread_connection().conn.reset(); }

void retry_on_database_loss(const app::task_context& ctx, const std::exception& e) {
  bool lost = dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr;
  thread_connection& tc = this_thread_connection();
  if (tc.conn && !tc.conn->is_open()) lost = true;
  if (!lost) return;
  drop_task_connection();
  ctx.retry(database_retry_countdown, fmt::format("lost the connection to PostgreSQL: {}", e.what()));
}

}  // namespace celeriac::tasks
