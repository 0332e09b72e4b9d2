#pragma once
// Following celeriac_jobs live: LISTEN on a dedicated connection and read
// the NOTIFY payloads the job store sends with each write (decode them with
// parse_job_notifications). For `celeriac status --watch`, dashboards and
// tests.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "pg/job_notification.hpp"
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

}  // namespace celeriac::pg
