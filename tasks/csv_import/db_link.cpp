#include "tasks/csv_import/db_link.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "tasks/csv_import/import_failures.hpp"
#include "util/log.hpp"

namespace celeriac::tasks {

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds backoff_initial{250};
constexpr milliseconds backoff_max{5'000};

}  // namespace

db_link::db_link(db_link_config config, std::unique_ptr<pq_session> open)
    : config_(std::move(config)), db_(std::move(open)), backoff_(backoff_initial) {}

pq_session& db_link::session() {
  while (!db_ || !db_->usable()) {
    db_.reset();
    try {
      db_ = std::make_unique<pq_session>(config_.conninfo);
      if (config_.setup) config_.setup(*db_);
    } catch (const pq_error& e) {
      db_.reset();
      if (!e.connection_lost()) throw;
      if (!down_since_) {
        down_since_ = steady::now();
        log::warning("{}: {}; retrying", config_.label, e.what());
      }
      check_budget_(e.what());
      pause_(backoff_);
      backoff_ = std::min(backoff_ * 2, backoff_max);
    }
  }
  return *db_;
}

void db_link::lost(const pq_error& e) {
  db_.reset();
  ++reconnects_;
  if (!down_since_) {
    down_since_ = steady::now();
    log::warning("{}: lost the database connection ({}); reconnecting and resuming from the checkpoint",
                 config_.label, e.what());
  }
  check_budget_(e.what());
}

void db_link::healthy() noexcept {
  down_since_.reset();
  backoff_ = backoff_initial;
}

void db_link::check_budget_(const std::string& why) const {
  if (down_since_ && steady::now() - *down_since_ > config_.reconnect_budget)
    throw database_unavailable(fmt::format(
        "celeriac.csv_import: PostgreSQL has been unavailable for over {} s ({}); the rows committed so far are "
        "kept and a retry resumes from the checkpoint",
        std::chrono::duration_cast<std::chrono::seconds>(config_.reconnect_budget).count(), why));
}

void db_link::pause_(milliseconds how_long) const {
  const auto until = steady::now() + how_long;
  while (steady::now() < until) {
    if (config_.should_stop && config_.should_stop())
      throw import_stopped("celeriac.csv_import: stopped as asked while waiting for the database");
    std::this_thread::sleep_for(std::min<steady::duration>(until - steady::now(), milliseconds(50)));
  }
}

}  // namespace celeriac::tasks
