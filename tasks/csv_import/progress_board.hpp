#pragma once
// The job's progress as the sum of its parts: each part posts its
// committed checkpoint, and the board reports the job's totals (bytes
// covered by the parts, rows loaded and rejected) through one callback,
// one report at a time. A one-part import is a board of one part.
//
// Thread-safe: parts post from their own threads. The report callback is
// called under the board's lock, so it sees reports one after another and
// never going back; while it runs (a slow sink, a soft time limit thrown
// from it), the other parts wait at their next report.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "tasks/csv_import/import_checkpoint.hpp"

namespace celeriac::tasks {

struct import_progress {
  std::uint64_t bytes_done = 0;   // bytes of the file the parts have committed
  std::uint64_t bytes_total = 0;  // the file's size
  std::uint64_t rows_loaded = 0;  // whole job so far
  std::uint64_t rows_rejected = 0;
  std::uint64_t line = 1;  // next line to read (of the first part not done)
  // Where the import stands, for messages: "line 12 (byte 345 of 6789)",
  // or per part "line 12 of part 1/2, line 5001 of part 2/2 (345 of 6789
  // bytes done)" (unfinished parts first).
  std::string where;
};

// The bytes a part loads.
struct part_range {
  std::uint64_t start_offset = 0;
  std::uint64_t end_offset = 0;
};

class progress_board {
public:
  using report_fn = std::function<void(const import_progress&)>;

  // One range per part, in file order, and where each part stands (its
  // checkpoint as last read), so the totals are the job's from the start.
  progress_board(std::uint64_t file_size, std::vector<part_range> ranges, std::vector<import_checkpoint> at,
                 report_fn report);

  // Part `part` has committed up to `at`: records it and reports the
  // job's totals. Exceptions from the report pass through, after the
  // position is recorded.
  void post(std::size_t part, const import_checkpoint& at);

  import_progress totals() const;
  // Rejected rows of the other parts (counted against max_errors).
  std::uint64_t rejected_outside(std::size_t part) const;

private:
  import_progress totals_locked() const;

  const std::uint64_t file_size_;
  const std::vector<part_range> ranges_;
  const report_fn report_;
  mutable std::mutex mutex_;
  std::vector<import_checkpoint> at_;
};

}  // namespace celeriac::tasks
