#pragma once
// The writer of celeriac_jobs: workers record every task's lifecycle here
// without waiting for PostgreSQL.
//
// record() only merges the update into an in-memory buffer (latest state
// per task id wins, bounded). A background loop on the given executor
// flushes the buffer at most every flush_interval as multi-row upserts of
// at most max_batch_rows rows each (see job_writer.hpp), up to
// concurrent_writes of them at once, run on the pool's threads. So a job is written a few times a second at most however often
// it reports progress, and its final state is always written.
//
// When PostgreSQL is unavailable, nothing is lost while the buffer has
// room: the batch goes back into the buffer (newer updates merged on top),
// the loop retries with backoff, logs the outage once and its end once, and
// the rows catch up when the database returns. A full buffer drops the
// oldest pending non-final update first; a final state is dropped only when
// nothing else is left to drop, and that is logged as an error.
//
// Give the store a pool of its own, with concurrent_writes connections: a
// write may hold its connection through the pool's retries, and task
// queries should not queue behind it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "pg/job_update.hpp"
#include "pg/pool.hpp"

namespace celeriac::pg {

struct job_store_config {
  // Pause between flushes; each job is written at most once per interval.
  std::chrono::milliseconds flush_interval{200};
  // Most task ids held in memory while writes wait (each takes a few
  // hundred bytes). 0 is taken as 1.
  std::size_t max_pending = 100'000;
  // Rows per upsert statement (and transaction). 0 is taken as 1.
  std::size_t max_batch_rows = 5'000;
  // Batches written at once. They hold disjoint task ids, so a job's
  // writes still land in order. Each needs its own pool connection to run in
  // parallel: size the store's pool to match. 0 is taken as 1.
  std::size_t concurrent_writes = 2;
  // Wait after a failed write, doubling up to retry_max while it keeps
  // failing. The pool's own quick retries come first.
  std::chrono::milliseconds retry_initial{500};
  std::chrono::milliseconds retry_max{10'000};
};

struct job_store_stats {
  std::uint64_t recorded = 0;          // updates accepted by record()
  std::uint64_t refused = 0;           // updates record() could not take (bad task id)
  std::uint64_t written_rows = 0;      // rows upserted (a job written twice counts twice)
  std::uint64_t batches = 0;           // upsert transactions committed
  std::uint64_t failed_writes = 0;     // batch writes that failed and went back to the buffer
  std::uint64_t dropped_nonfinal = 0;  // pending non-final updates dropped for room
  std::uint64_t dropped_final = 0;     // pending final updates dropped for room (logged)
  std::uint64_t rejected = 0;          // updates the server refused even without meta/result
  std::size_t pending = 0;             // task ids not yet written, including those being written now
  bool database_ok = true;             // false from a failed write until the next success
};

class job_store {
public:
  // Does not start writing: call start(). `db` must outlive the store's loop
  // (until async_stop() completes).
  job_store(boost::asio::any_io_executor ex, pool& db, job_store_config cfg = {});
  // Asks a still-running loop to stop and abandon what is pending (logged);
  // call async_stop() first for an orderly end.
  ~job_store();
  job_store(const job_store&) = delete;
  job_store& operator=(const job_store&) = delete;

  // Starts the flush loop on the executor (once; later calls do nothing).
  void start();

  // Buffers an update for writing: never blocks on the database, never
  // throws for database trouble. Thread-safe. An update with an empty task
  // id or one over max_task_id_bytes is refused (logged, counted).
  void record(job_update u);

  // Writes everything buffered now. Returns true once the buffer is empty
  // and no write is in flight, false if that has not happened within
  // `timeout` (the database may be down: the updates stay buffered).
  boost::asio::awaitable<bool> async_flush(std::chrono::milliseconds timeout);

  // Flushes and stops the loop. Returns true if everything was written.
  // After `timeout` it gives up: what is still pending is abandoned (logged
  // with counts), and the loop exits once a write in flight, if any,
  // returns. record() after stopping only buffers.
  boost::asio::awaitable<bool> async_stop(std::chrono::milliseconds timeout);

  // A snapshot of the counters. Thread-safe.
  job_store_stats stats() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace celeriac::pg
