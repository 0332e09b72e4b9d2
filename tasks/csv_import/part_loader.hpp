#pragma once
// Loads one part of an import, [start_offset, end_offset) of the file,
// chunk by chunk on a connection of its own, moving its own checkpoint
// (chunk_loader), until the part is done: the whole file for a one-part
// import, a slice between two split points for a parallel one. After any
// interruption it re-reads its checkpoint and goes on from there.
//
// The part's reader starts at the checkpoint (a record boundary) over a
// source cut at end_offset (another record boundary), so it yields exactly
// the records a full parse yields in the range (csv/split_points.hpp).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "csv/byte_source.hpp"
#include "csv/reader.hpp"
#include "tasks/csv_import/chunk_loader.hpp"
#include "tasks/csv_import/csv_importer.hpp"
#include "tasks/csv_import/db_link.hpp"
#include "tasks/csv_import/import_checkpoint.hpp"
#include "tasks/csv_import/import_sql.hpp"
#include "tasks/csv_import/progress_board.hpp"
#include "tasks/csv_import/upload_file.hpp"

namespace celeriac::tasks {

// What every part of one import shares, unchanged while the parts run.
struct import_job {
  const importer_config& config;
  const upload_file& file;
  const import_sql& sql;
  file_identity identity;
  std::string conninfo;
};

struct part_plan {
  checkpoint_slot slot;    // the job's row (one part) or this part's
  std::size_t index = 0;   // in the progress board and the job's parts
  std::size_t count = 1;   // parts in the job
  std::uint64_t start_offset = 0;
  std::uint64_t start_line = 1;
  std::uint64_t end_offset = 0;
};

enum class part_outcome {
  done,           // every record of the range is committed (now or before)
  cut_meanwhile,  // a one-part load found the job cut into parts by another delivery
};

struct part_stats {
  bool resumed = false;     // its checkpoint was past its start when it began
  std::uint64_t chunks = 0;
  std::uint64_t lost_races = 0;
  std::uint64_t reconnects = 0;  // connections lost and made again
};

class part_loader {
public:
  // `job` and `board` must outlive the loader. should_stop is polled
  // between chunks. `session`, if given, is an open session to use first.
  part_loader(const import_job& job, part_plan plan, progress_board& board, std::function<bool()> should_stop,
              std::unique_ptr<pq_session> session = nullptr);

  // Loads the part. Throws what run_csv_import documents.
  part_outcome run();

  part_stats stats() const noexcept {
    part_stats s = stats_;
    s.reconnects = link_.reconnects();
    return s;
  }

private:
  std::optional<import_checkpoint> read_position_(pq_session& db);
  void open_reader_(const import_checkpoint& cp);
  void note_commit_(const chunk_result& r);
  void check_rejections_(const import_checkpoint& cp) const;
  void check_file_() const;
  part_outcome finish_(pq_session& db);
  bool stop_requested_() const { return should_stop_ && should_stop_(); }

  const import_job& job_;
  const part_plan plan_;
  progress_board& board_;
  std::function<bool()> should_stop_;
  std::string label_;  // "csv_import[ID]" or "csv_import[ID] part 2/4"
  db_link link_;
  chunk_loader loader_;

  std::optional<csv::file_source> file_source_;
  std::optional<csv::bounded_source> source_;  // the part's bytes from the checkpoint on
  std::unique_ptr<csv::reader> reader_;        // reads source_
  bool first_read_ = true;
  part_stats stats_;
};

// Readies a new load session: chunks commit without waiting for the WAL
// flush (finish_() makes the end durable), and an upsert's staging table.
void prepare_load_session(pq_session& db, const import_request& request, const import_sql& sql);

// The SQLSTATE-aware message for a statement the server refused (not a
// lost connection): what a caller can do about it.
app::task_error refused_statement(const pq_error& e, const import_request& request, const import_sql& sql);

}  // namespace celeriac::tasks
