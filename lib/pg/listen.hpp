#pragma once
// Following celeriac_jobs live: LISTEN on a dedicated connection and read
// the NOTIFY payloads the job store sends with each write. For
// `celeriac status --watch`, dashboards and tests.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/job_state.hpp"
#include "pg/job_writer.hpp"

namespace celeriac::pg {

struct notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;  // the server process that sent it
};

class listener {
public:
  // Opens its own connection to `url` and LISTENs on `channel`. Throws
  // pqxx::broken_connection when the server cannot be reached.
  explicit listener(const std::string& url, std::string channel = std::string(jobs_channel));
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  // Returns the notifications that arrived, waiting up to `timeout` for the
  // first one; empty on timeout. Blocks the calling thread. Throws
  // pqxx::broken_connection when the connection is lost: notifications sent
  // meanwhile are gone, so make a new listener and re-read the rows.
  std::vector<notification> wait(std::chrono::milliseconds timeout);

  const std::string& channel() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A job store payload, decoded.
struct job_notification {
  std::string task_id;
  job_state state = job_state::received;
  std::optional<std::int64_t> progress_done;
  std::optional<std::int64_t> progress_total;
  std::optional<std::string> progress_unit;
};

// Decodes a celeriac_jobs payload; nullopt if it is not one (not JSON, no
// task_id, unknown state).
std::optional<job_notification> parse_job_notification(std::string_view payload);

}  // namespace celeriac::pg
