#include "tasks/common/task_database.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <fmt/format.h>
#include <pqxx/except>

#include "app/task_error.hpp"
#include "pg/conninfo.hpp"

namespace celeriac::tasks {
namespace {

struct open_connection {
  std::string url;
  std::unique_ptr<pqxx::connection> conn;
};

// The process's task connections: each run borrows one for its duration
// and gives it back when its context ends, so a worker child, which runs
// one task at a time on either of two threads, keeps one connection open
// between tasks, and tasks run side by side (in tests) get one each.
class connection_pool {
public:
  // The connection run `ctx` borrowed, borrowing one on first use.
  open_connection& of(const app::task_context& ctx) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = lent_.try_emplace(&ctx);
    if (!fresh) return *it->second;
    if (!idle_.empty()) {
      it->second = std::move(idle_.back());
      idle_.pop_back();
    } else {
      it->second = std::make_unique<open_connection>();
    }
    ctx.at_end([this, key = &ctx] { give_back(key); });
    return *it->second;
  }

  void close_idle() {
    std::lock_guard lock(mu_);
    idle_.clear();
  }

private:
  void give_back(const app::task_context* key) {
    std::lock_guard lock(mu_);
    auto it = lent_.find(key);
    if (it == lent_.end()) return;
    if (it->second->conn) idle_.push_back(std::move(it->second));
    lent_.erase(it);
  }

  std::mutex mu_;
  std::map<const app::task_context*, std::unique_ptr<open_connection>> lent_;
  std::vector<std::unique_ptr<open_connection>> idle_;
};

connection_pool& the_pool() {
  static connection_pool pool;
  return pool;
}

open_connection& borrowed_by(const app::task_context& ctx) { return the_pool().of(ctx); }

}  // namespace

pqxx::connection& task_connection(const app::task_context& ctx) {
  const auto& url = ctx.resources().database_url;
  if (!url)
    throw app::task_error("RuntimeError",
                          fmt::format("task {} needs PostgreSQL: start the worker with --database URL (or "
                                      "CELERIAC_DATABASE_URL)",
                                      ctx.request().name));
  open_connection& tc = borrowed_by(ctx);
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

void drop_task_connection(const app::task_context& ctx) noexcept { borrowed_by(ctx).conn.reset(); }

void close_idle_task_connections() noexcept { the_pool().close_idle(); }

void retry_on_database_loss(const app::task_context& ctx, const std::exception& e) {
  bool lost = dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr;
  open_connection& tc = borrowed_by(ctx);
  if (tc.conn && !tc.conn->is_open()) lost = true;
  if (!lost) return;
  drop_task_connection(ctx);
  ctx.retry(database_retry_countdown, fmt::format("lost the connection to PostgreSQL: {}", e.what()));
}

}  // namespace celeriac::tasks
