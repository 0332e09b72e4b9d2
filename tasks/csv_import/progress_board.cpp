#include "tasks/csv_import/progress_board.hpp"

#include <fmt/format.h>

namespace celeriac::tasks {

progress_board::progress_board(std::uint64_t file_size, std::vector<part_range> ranges,
                               std::vector<import_checkpoint> at, report_fn report)
    : file_size_(file_size), ranges_(std::move(ranges)), report_(std::move(report)), at_(std::move(at)) {
  at_.resize(ranges_.size());
}

void progress_board::post(std::size_t part, const import_checkpoint& at) {
  std::lock_guard lock(mutex_);
  at_.at(part) = at;
  if (report_) report_(totals_locked());
}

import_progress progress_board::totals() const {
  std::lock_guard lock(mutex_);
  return totals_locked();
}

std::uint64_t progress_board::rejected_outside(std::size_t part) const {
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < at_.size(); ++i)
    if (i != part) n += at_[i].rows_rejected;
  return n;
}

import_progress progress_board::totals_locked() const {
  import_progress p;
  p.bytes_total = file_size_;
  std::string unfinished, finished;
  bool first_unfinished = true;
  for (std::size_t i = 0; i < at_.size(); ++i) {
    const import_checkpoint& a = at_[i];
    p.bytes_done += a.byte_offset - ranges_[i].start_offset;
    p.rows_loaded += a.rows_done;
    p.rows_rejected += a.rows_rejected;
    const bool done = a.byte_offset >= ranges_[i].end_offset;
    if (!done && first_unfinished) {
      p.line = a.line_number;
      first_unfinished = false;
    }
    std::string& list = done ? finished : unfinished;
    if (!list.empty()) list += ", ";
    list += done ? fmt::format("part {}/{} done", i + 1, at_.size())
                 : fmt::format("line {} of part {}/{}", a.line_number, i + 1, at_.size());
  }
  if (first_unfinished && !at_.empty()) p.line = at_.back().line_number;
  if (at_.size() == 1) {
    p.where = fmt::format("line {} (byte {} of {})", p.line, p.bytes_done, file_size_);
  } else {
    p.where = fmt::format("{}{}{} ({} of {} bytes done)", unfinished, unfinished.empty() || finished.empty() ? "" : ", ",
                          finished, p.bytes_done, file_size_);
  }
  return p;
}

}  // namespace celeriac::tasks
