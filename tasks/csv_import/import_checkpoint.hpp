#pragma once
// celeriac_import_checkpoints: how far an import has durably got.
//
// One row per task id, created when the import first starts and moved
// forward only inside the transaction that loads a chunk (chunk_loader),
// by compare-and-set on the offset it started from. So the row always
// describes exactly the rows committed, and any delivery of the job (a
// retry, a redelivery after a crash, a duplicate running at the same time)
// resumes from it.

#include <cstdint>
#include <string>

#include "tasks/csv_import/pq_session.hpp"
#include "tasks/csv_import/upload_file.hpp"

namespace celeriac::tasks {

struct import_checkpoint {
  std::uint64_t byte_offset = 0;  // just after the last committed record
  std::uint64_t line_number = 1;  // physical line at that offset (1-based)
  std::uint64_t rows_done = 0;      // rows loaded into the table so far
  std::uint64_t rows_rejected = 0;  // rows recorded in celeriac_import_errors so far
};

// Reads the task's checkpoint, creating it at the start of the file when
// there is none. Throws app::task_error (RuntimeError) when the checkpoint
// belongs to another version of the file (size or mtime differ): resuming
// would skip or repeat rows. Throws pq_error on database failures. Runs
// outside any transaction (each statement commits on its own).
import_checkpoint open_checkpoint(pq_session& db, const std::string& task_id, const file_identity& file);

// Inside the chunk's transaction: locks the task's checkpoint row
// (SELECT ... FOR UPDATE) and returns its byte offset, so a concurrent
// delivery waits until this chunk commits or rolls back. Throws
// app::task_error when the row has disappeared (someone deleted it).
std::uint64_t lock_checkpoint(pq_session& db, const std::string& task_id);

// Inside the chunk's transaction, after its rows: moves the checkpoint
// from `from` to `to` (counters are added: to.rows_done etc. are the new
// totals). Returns false when the row no longer starts at from.byte_offset.
bool advance_checkpoint(pq_session& db, const std::string& task_id, const import_checkpoint& from,
                        const import_checkpoint& to);

}  // namespace celeriac::tasks
