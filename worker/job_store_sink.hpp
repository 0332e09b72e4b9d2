#pragma once
// The lifecycle sink of a worker child run with --database: every task's
// RECEIVED, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE and REVOKED goes to
// celeriac_jobs through a pg::job_store (coalesced per job, batched across
// jobs, written off the io thread, buffered while PostgreSQL is away).
//
// Owns the store's connection pool and the store. Calls never block:
// record() and progress() only buffer (see pg::job_store::record).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "pg/job_store.hpp"
#include "pg/job_update.hpp"
#include "pg/pool.hpp"
#include "worker/lifecycle_sink.hpp"

namespace celeriac::worker {

// `attempts` for a delivery: 1, plus one per retry (the message's retries
// header), plus one when the broker redelivered it (restored after a lost
// worker). Derived from the message, so a repeated write is identical.
int attempts_of(std::int64_t retries, bool redelivered) noexcept;

// What the labels of a delivery's updates say.
struct job_labels {
  pg::label name;    // the task
  pg::label queue;   // where the message came from
  pg::label worker;  // this worker's node name
};

// The job_update a lifecycle event becomes (a pure function, for tests).
// state is RECEIVED, STARTED, RETRY, SUCCESS, FAILURE or REVOKED; an
// unknown name becomes nullopt.
std::optional<pg::job_update> lifecycle_update(const celery::task_message& m, std::string_view state,
                                               const json::value& result, const std::string& error,
                                               const job_labels& labels);
pg::job_update started_update(const app::task_request& request);
pg::job_update progress_update(const app::task_request& request, const app::progress_report& report);

class job_store_sink final : public lifecycle_sink {
public:
  // Builds the pool (connections open lazily) and the store on `ex`; call
  // start(). worker: the node name written to celeriac_jobs.worker.
  job_store_sink(boost::asio::any_io_executor ex, const std::string& database_url, const std::string& worker);
  ~job_store_sink() override;

  void start();
  // Flushes what is buffered and stops the store; true if everything was
  // written within `timeout` (false: PostgreSQL is away, the rest is
  // abandoned and logged).
  boost::asio::awaitable<bool> async_stop(std::chrono::milliseconds timeout);

  void record(const celery::task_message& m, const std::string& queue, std::string_view state,
              const json::value& result, const std::string& error) override;
  void started(const app::task_request& request) override;
  void progress(const app::task_request& request, const app::progress_report& report) override;

  pg::job_store_stats stats() const { return store_->stats(); }

private:
  pg::label worker_;
  // Most tasks share a name and a queue with the one before.
  pg::label_cache names_;
  pg::label_cache queues_;
  std::unique_ptr<pg::pool> pool_;
  std::unique_ptr<pg::job_store> store_;
};

}  // namespace celeriac::worker
