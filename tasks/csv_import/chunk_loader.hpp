#pragma once
// One chunk of an import (or of one part of it), in one transaction: its
// good rows loaded with binary COPY, its bad rows recorded in
// celeriac_import_errors, and the checkpoint moved past it, all committed
// together or not at all.
//
//   BEGIN
//   SELECT byte_offset ... FOR UPDATE        lock the checkpoint (the job's
//                                            or the part's); another offset
//                                            means another delivery got
//                                            here first: ROLLBACK
//   SAVEPOINT; COPY rows FROM STDIN binary   rows are streamed to the server
//                                            as they are parsed
//   [upsert: move the staged rows into the table, last row per key wins]
//   on a data error from the server: ROLLBACK TO SAVEPOINT and load the
//   rows again in halves, each under its own savepoint, down to the single
//   rows the server refuses, which become error rows
//   COPY celeriac_import_errors FROM STDIN binary
//   UPDATE checkpoint ... WHERE byte_offset = <where this chunk began>
//     [a part: and add the chunk's rows to the job row's sums]
//   COMMIT
//
// A chunk ends after chunk_rows records, at the end of the reader's data
// (the file, or the part), or at the record that takes the job's rejected
// rows past max_errors.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "csv/copy_encoder.hpp"
#include "csv/reader.hpp"
#include "csv/validate.hpp"
#include "tasks/csv_import/import_checkpoint.hpp"
#include "tasks/csv_import/import_request.hpp"
#include "tasks/csv_import/import_sql.hpp"
#include "tasks/csv_import/pq_session.hpp"
#include "tasks/csv_import/upload_file.hpp"

namespace celeriac::tasks {

// raw_record keeps at most this many bytes of a refused record.
inline constexpr std::size_t max_raw_record_bytes = 4096;
// A reason longer than this is cut (at a UTF-8 boundary).
inline constexpr std::size_t max_reason_bytes = 2048;

enum class chunk_status {
  committed,     // loaded; `checkpoint` is the new one
  lost_race,     // another delivery moved the checkpoint first: nothing written
  nothing_left,  // the reader had nothing more after `from`: nothing written
};

struct chunk_result {
  chunk_status status = chunk_status::nothing_left;
  import_checkpoint checkpoint;      // after the chunk (committed)
  std::uint64_t rows_loaded = 0;     // in this chunk
  std::uint64_t rows_rejected = 0;   // in this chunk, the server's refusals included
  std::uint64_t server_rejected = 0; // of those, rows the server refused
  bool at_end = false;               // the reader reached the end of its data
};

class chunk_loader {
public:
  // All arguments must outlive the loader. before_commit (a test hook,
  // may be empty) runs inside each chunk's transaction just before its
  // COMMIT; throwing there abandons the chunk as a crash would.
  chunk_loader(const import_request& request, const import_sql& sql, const checkpoint_slot& slot,
               const upload_file& file, std::function<void()> before_commit = {});

  // Loads the records `reader` yields from `from` on (the reader must be
  // positioned at from.byte_offset) as one transaction; see above.
  // rejected_elsewhere: the job's rejected rows outside this slot (other
  // parts), counted against max_errors with the slot's own. On any
  // exception the transaction is not committed and the session may be in
  // the middle of a COPY: drop it. Throws app::task_error (ValueError) for
  // a header that does not match the columns; pq_error from the database.
  chunk_result load(pq_session& db, csv::reader& reader, const import_checkpoint& from,
                    std::uint64_t rejected_elsewhere = 0);

private:
  struct good_row {
    std::uint64_t line;
    std::uint64_t offset;      // in the file
    std::uint64_t end_offset;
    std::size_t enc_begin;     // in encoder_
    std::size_t enc_end;
  };
  struct bad_row {
    std::uint64_t line;
    std::string column;  // empty: the record as a whole
    std::string reason;
    std::string raw;
  };

  void reset_();
  void add_bad_(const csv::record& rec, const csv::field_error& e);
  // Loads good rows [lo, hi) under a savepoint; on a data error rolls back
  // to it and splits.
  void apply_range_(pq_session& db, std::size_t lo, std::size_t hi);
  // [lo, hi) failed with `e` (and was rolled back): finds the rows to blame.
  void split_(pq_session& db, std::size_t lo, std::size_t hi, const pq_error& e);
  void send_range_(pq_session& db, std::size_t lo, std::size_t hi);
  void record_server_refusal_(std::size_t row, const pq_error& e);
  void write_errors_(pq_session& db);
  // Bytes of raw_record for a refused record: its first bytes, without
  // its line terminator.
  std::string raw_prefix_(std::string_view raw) const;

  const import_request& request_;
  const import_sql& sql_;
  const checkpoint_slot& slot_;
  const upload_file& file_;
  std::function<void()> before_commit_;

  // Reused across chunks, so memory stays at one chunk's worth.
  csv::copy_encoder encoder_;
  std::vector<csv::value> values_;
  std::vector<good_row> good_;
  std::vector<bad_row> bad_;
  csv::copy_encoder errors_encoder_;
  std::string raw_buffer_;
  std::uint64_t server_rejected_ = 0;
};

}  // namespace celeriac::tasks
