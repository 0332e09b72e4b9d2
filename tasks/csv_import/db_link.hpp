#pragma once
// A load connection that outlives the database going away: session()
// (re)connects with backoff (0.25 s doubling to 5 s), a lost connection is
// absorbed until PostgreSQL has been unreachable for the whole reconnect
// budget since the last commit, and then database_unavailable ends the
// import (a retry resumes from the checkpoint). One per part, used by one
// thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tasks/csv_import/pq_session.hpp"

namespace celeriac::tasks {

struct db_link_config {
  std::string conninfo;
  std::string label;  // "csv_import[ID]" or "csv_import[ID] part 2/4", for log lines
  std::chrono::milliseconds reconnect_budget{60'000};
  std::function<bool()> should_stop;       // polled while waiting to reconnect
  std::function<void(pq_session&)> setup;  // run on every new session
};

class db_link {
public:
  explicit db_link(db_link_config config, std::unique_ptr<pq_session> open = nullptr);

  // A usable session, connecting first when there is none. Waits with
  // backoff while the server cannot be reached. Throws
  // database_unavailable past the budget, import_stopped when should_stop()
  // turns true while waiting, and pq_error for anything but a lost
  // connection (setup's refusals included).
  pq_session& session();

  // After a pq_error that lost the connection (the session is dropped):
  // logs the first loss of a run of them; throws database_unavailable past
  // the budget.
  void lost(const pq_error& e);
  // Drops the session (after an exception it may be in the middle of a COPY).
  void drop() noexcept { db_.reset(); }
  // Hands the open session over (the layout's, to the first part).
  std::unique_ptr<pq_session> release() noexcept { return std::move(db_); }
  // A chunk committed: the database is back, and the budget starts again.
  void healthy() noexcept;

  std::uint64_t reconnects() const noexcept { return reconnects_; }

private:
  void check_budget_(const std::string& why) const;
  void pause_(std::chrono::milliseconds how_long) const;

  db_link_config config_;
  std::unique_ptr<pq_session> db_;
  std::optional<std::chrono::steady_clock::time_point> down_since_;
  std::chrono::milliseconds backoff_;
  std::uint64_t reconnects_ = 0;
};

}  // namespace celeriac::tasks
