#pragma once
// celeriac.csv_import's engine: streams an uploaded CSV file into a table,
// chunk by chunk, resuming from the job's checkpoints (see chunk_loader.hpp
// and docs/csv-import.md for the exactly-once argument).
//
// Runs on the calling thread and blocks (a task's executor thread). A
// one-part import owns one dedicated connection there, reconnecting when
// it breaks: after any interruption (a lost connection, PostgreSQL
// restarting, a COMMIT in doubt, another delivery of the same job loading
// a chunk first) it re-reads the checkpoint and goes on from there, so the
// table holds every good row exactly once whatever happened.
//
// With request.parallel > 1 the file is cut at record boundaries (once,
// when the job first starts; csv::find_split_points) into parts that load
// at once, each on a thread of its own, started and joined here, with its
// own connection and its own checkpoint, each exactly as above. The first
// part to fail (or to be asked to stop) stops the others at their next
// chunk boundary, and its failure is what this throws.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "tasks/csv_import/import_failures.hpp"
#include "tasks/csv_import/import_request.hpp"
#include "tasks/csv_import/progress_board.hpp"

namespace celeriac::tasks {

struct import_summary {
  std::uint64_t rows_loaded = 0;    // whole job (every delivery)
  std::uint64_t rows_rejected = 0;  // whole job
  std::uint64_t rows_loaded_now = 0;  // by this call
  std::uint64_t bytes = 0;            // the file's size
  double seconds = 0;                 // this call's wall time
  double rows_per_second = 0;         // rows this call loaded or rejected, per second
  bool resumed = false;               // started from a checkpoint past the file's start
  std::uint64_t chunks = 0;           // committed by this call (all parts)
  std::uint64_t lost_races = 0;       // chunks another delivery committed first
  std::uint64_t reconnects = 0;       // connections lost and made again
  std::uint32_t parts = 1;            // parts the job is cut into
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
  // Called after a part reads its checkpoint and after each committed
  // chunk, with the job's totals (the sum of the parts), one call at a
  // time; with several parts, from the parts' threads.
  std::function<void(const import_progress&)> on_progress;
  // Polled between chunks (and while waiting to reconnect), by every
  // part's thread; true stops the import with import_stopped. Work up to
  // the last commit stays done. on_progress may also throw to stop the
  // import (the task context does past a soft time limit): it is called
  // only where the table and the checkpoints agree (after reading one,
  // after each commit).
  std::function<bool()> should_stop;
  // Test hooks. after_commit: after each chunk a one-part import commits.
  // after_part_commit: after each chunk any part commits (on its thread),
  // with the part's index and how many chunks it committed in this call.
  // before_commit: inside each chunk's transaction just before COMMIT (on
  // the part's thread); throwing abandons the chunk as a crash would.
  std::function<void(const import_summary&)> after_commit;
  std::function<void(std::size_t part, std::uint64_t chunks)> after_part_commit;
  std::function<void(std::size_t part)> before_commit;
};

// Runs (or resumes) the import, cut into request.parallel parts when it
// starts (a resume keeps the cut made at the start). Throws
// app::task_error for a request the file, the table or the data cannot
// satisfy (bad path, changed file, header mismatch, incompatible table,
// too many rejected rows, a statement the server refuses),
// database_unavailable, import_stopped, and std::system_error for an I/O
// error reading the file.
import_summary run_csv_import(const importer_config& config);

}  // namespace celeriac::tasks
