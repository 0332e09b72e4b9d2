#pragma once
// Reading celeriac_jobs back: what `celeriac status` and `celeriac jobs`
// show. Functions take a connection so the CLI can run them through
// pool::run() and tests directly.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/connection>

#include "json/value.hpp"
#include "pg/job_state.hpp"
#include "util/clock.hpp"

namespace celeriac::pg {

// One celeriac_jobs row (see docs/postgres.md for the columns).
struct job_row {
  std::string task_id;
  job_state state = job_state::received;
  std::optional<std::string> name;
  std::optional<std::string> queue;
  std::optional<std::int64_t> progress_done;
  std::optional<std::int64_t> progress_total;
  std::optional<std::string> progress_unit;
  std::optional<json::value> meta;
  std::optional<std::string> message;
  std::optional<std::string> error;
  std::optional<std::string> result;  // JSON text
  int attempts = 1;
  std::optional<std::string> worker;
  util::wall_time created_at{};
  std::optional<util::wall_time> started_at;
  std::optional<util::wall_time> finished_at;
  util::wall_time updated_at{};
};

// The job's row, or nullopt when no worker has recorded it (yet). Throws
// pqxx exceptions on database errors.
std::optional<job_row> get_job(pqxx::connection& c, std::string_view task_id);

struct job_filter {
  std::optional<job_state> state{};  // only jobs in this state
  std::size_t limit = 50;          // most rows returned; 0 returns none
};

// Jobs newest first (created_at, then task_id). Throws pqxx exceptions on
// database errors.
std::vector<job_row> list_jobs(pqxx::connection& c, const job_filter& filter = {});

}  // namespace celeriac::pg
