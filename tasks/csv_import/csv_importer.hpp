#pragma once
// celeriac.csv_import's engine: streams an uploaded CSV file into a table,
// chunk by chunk, resuming from the job's checkpoint (see chunk_loader.hpp
// and docs/csv-import.md for the exactly-once argument).
//
// Runs on the calling thread and blocks (a task's executor thread). It
// owns one dedicated connection, reconnecting when it breaks: after any
// interruption (a lost connection, PostgreSQL restarting, a COMMIT in
// doubt, another delivery of the same job loading a chunk first) it
// re-reads the checkpoint and goes on from there, so the table holds every
// good row exactly once whatever happened.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include "tasks/csv_import/import_request.hpp"

namespace celeriac::tasks {

struct import_progress {
  std::uint64_t bytes_done = 0;   // the checkpoint's offset
  std::uint64_t bytes_total = 0;  // the file's size
  std::uint64_t rows_loaded = 0;  // whole job so far
  std::uint64_t rows_rejected = 0;
  std::uint64_t line = 1;  // next line to read
};

struct import_summary {
  std::uint64_t rows_loaded = 0;    // whole job (every delivery)
  std::uint64_t rows_rejected = 0;  // whole job
  std::uint64_t rows_loaded_now = 0;  // by this call
  std::uint64_t bytes = 0;            // the file's size
  double seconds = 0;                 // this call's wall time
  double rows_per_second = 0;         // rows this call loaded or rejected, per second
  bool resumed = false;               // started from a checkpoint past the file's start
  std::uint64_t chunks = 0;           // committed by this call
  std::uint64_t lost_races = 0;       // chunks another delivery committed first
  std::uint64_t reconnects = 0;       // connections lost and made again
};

struct importer_config {
  std::string task_id;       // the job; keys its checkpoint and error rows
  std::string database_url;  // libpq connection string
  std::filesystem::path upload_dir;
  import_request request;
  // How long the database may stay unreachable before giving up with
  // database_unavailable (counted from the first failure since the last
  // committed chunk).
  std::chrono::milliseconds reconnect_budget{60'000};
  // Called after the checkpoint is read and after each committed chunk.
  std::function<void(const import_progress&)> on_progress;
  // Polled between chunks (and while waiting to reconnect); true stops the
  // import with import_stopped. Work up to the last commit stays done.
  // on_progress may also throw to stop the import (the task context does
  // past a soft time limit): it is called only where the table and the
  // checkpoint agree (after reading it, after each commit).
  std::function<bool()> should_stop;
  // Test hook: called after each chunk this call commits.
  std::function<void(const import_summary&)> after_commit;
};

// PostgreSQL stayed unreachable for the whole reconnect budget. The work
// committed so far is kept; a later delivery resumes from the checkpoint.
class database_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// should_stop() said so.
class import_stopped : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Runs (or resumes) the import. Throws app::task_error for a request the
// file, the table or the data cannot satisfy (bad path, changed file,
// header mismatch, incompatible table, too many rejected rows, a statement
// the server refuses), database_unavailable, import_stopped, and
// std::system_error for an I/O error reading the file.
import_summary run_csv_import(const importer_config& config);

}  // namespace celeriac::tasks
