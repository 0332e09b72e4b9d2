#pragma once
// celeriac_import_checkpoints and celeriac_import_parts: how far an import
// has durably got.
//
// One row per task id, created when the import first starts. A one-part
// import moves that row; a parallel one is cut once into parts, each with
// a row of its own. A row moves forward only inside the transaction that
// loads a chunk (chunk_loader), by compare-and-set on the offset the chunk
// started from. So every row describes exactly the rows committed, and any
// delivery of the job (a retry, a redelivery after a crash, a duplicate
// running at the same time) resumes from them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "csv/split_points.hpp"
#include "tasks/csv_import/pq_session.hpp"
#include "tasks/csv_import/upload_file.hpp"

namespace celeriac::tasks {

struct import_checkpoint {
  std::uint64_t byte_offset = 0;  // just after the last committed record
  std::uint64_t line_number = 1;  // physical line at that offset (1-based)
  std::uint64_t rows_done = 0;      // rows loaded into the table so far
  std::uint64_t rows_rejected = 0;  // rows recorded in celeriac_import_errors so far
};

// The job's row. A job loads as one part, whose position is the row's
// own, or is cut into parts (part_count > 1, celeriac_import_parts): then
// the row stays at offset 0 and its rows are the sums of the parts'.
struct job_checkpoint {
  import_checkpoint position;
  std::uint32_t part_count = 0;  // 0: not cut
};

// A part of a cut job: it loads [start_offset, end_offset) and has
// committed up to `at`.
struct part_checkpoint {
  std::uint32_t part = 0;
  std::uint64_t start_offset = 0;
  std::uint64_t start_line = 1;
  std::uint64_t end_offset = 0;
  import_checkpoint at;
};

// The row a chunk transaction moves: the job's own (one part) or a part's.
struct checkpoint_slot {
  std::string task_id;
  std::optional<std::uint32_t> part;
};

// Reads the job's checkpoint, creating it at the start of the file when
// there is none. Throws app::task_error (RuntimeError) when the checkpoint
// belongs to another version of the file (size or mtime differ): resuming
// would skip or repeat rows. Throws pq_error on database failures. Runs
// outside any transaction (each statement commits on its own).
job_checkpoint open_checkpoint(pq_session& db, const std::string& task_id, const file_identity& file);

// The parts of a cut job, in order (empty when it is not cut).
std::vector<part_checkpoint> read_parts(pq_session& db, const std::string& task_id);

// Cuts the job at `points` (at least one, within the file of `file_size`
// bytes), in one transaction under the job row's lock, unless it was cut
// already (another delivery got there first) or has begun loading as one
// part. Returns the parts on record afterwards: the new ones, another
// delivery's, or none (load it as one part).
std::vector<part_checkpoint> cut_into_parts(pq_session& db, const std::string& task_id,
                                            const std::vector<csv::split_point>& points, std::uint64_t file_size);

// One part's position now. Throws app::task_error when its row has
// disappeared.
import_checkpoint read_part(pq_session& db, const std::string& task_id, std::uint32_t part);

// Inside the chunk's transaction: locks the slot's row (SELECT ... FOR
// UPDATE) and returns its byte offset, so a concurrent delivery waits
// until this chunk commits or rolls back; nullopt when the slot no longer
// describes the job (a one-part slot of a job cut since). Throws
// app::task_error when the row has disappeared (someone deleted it).
std::optional<std::uint64_t> lock_checkpoint(pq_session& db, const checkpoint_slot& slot);

// Inside the chunk's transaction, after its rows: moves the slot from
// `from` to `to` (to.rows_done etc. are the slot's new totals); a part
// also adds its chunk's rows to the job row's sums. Returns false when the
// slot no longer starts at from.byte_offset.
bool advance_checkpoint(pq_session& db, const checkpoint_slot& slot, const import_checkpoint& from,
                        const import_checkpoint& to);

// After the last chunk: makes everything this connection (and every
// connection before it) committed durable, with one synchronous commit
// touching the slot's row.
void flush_checkpoint(pq_session& db, const checkpoint_slot& slot);

}  // namespace celeriac::tasks
