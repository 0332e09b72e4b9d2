#include "tasks/csv_import/import_checkpoint.hpp"

#include <fmt/format.h>

#include "app/task_error.hpp"

namespace celeriac::tasks {

namespace {

// A file's mtime as an exact timestamptz from its microseconds since the
// epoch (whole seconds and the rest apart, so no float rounding creeps in).
#define CELERIAC_MTIME(p)                                                                              \
  "(timestamptz 'epoch' + (" p "::bigint / 1000000) * interval '1 second' + (" p "::bigint % 1000000) * " \
  "interval '1 microsecond')"

const std::string create_sql =
    "INSERT INTO celeriac_import_checkpoints "
    "(task_id, byte_offset, line_number, rows_done, rows_rejected, file_size, file_mtime) "
    "VALUES ($1, 0, 1, 0, 0, $2::bigint, " CELERIAC_MTIME("$3") ") ON CONFLICT (task_id) DO NOTHING";

const std::string read_sql =
    "SELECT byte_offset, line_number, rows_done, rows_rejected, "
    "file_size IS NOT DISTINCT FROM $2::bigint AND file_mtime IS NOT DISTINCT FROM " CELERIAC_MTIME("$3") ", "
    "coalesce(file_size::text, 'unknown'), coalesce(file_mtime::text, 'unknown'), coalesce(part_count, 0) "
    "FROM celeriac_import_checkpoints WHERE task_id = $1";

#undef CELERIAC_MTIME

const std::string parts_sql =
    "SELECT part, start_offset, start_line, end_offset, byte_offset, line_number, rows_done, rows_rejected "
    "FROM celeriac_import_parts WHERE task_id = $1 ORDER BY part";

std::string num(std::uint64_t v) { return std::to_string(v); }

std::uint64_t get_u64(const pq_result& r, int row, int column) {
  return static_cast<std::uint64_t>(r.get_int(row, column));
}

[[noreturn]] void row_gone(const std::string& task_id, std::string_view what) {
  throw app::task_error("RuntimeError", fmt::format("celeriac.csv_import: the {} of task {} was deleted during the "
                                                    "import; is something deleting its rows?",
                                                    what, task_id));
}

void commit(pq_session& db, std::string_view what) {
  pq_result r = db.exec("COMMIT");
  if (r.command_status() != "COMMIT")
    throw pq_error(fmt::format("COMMIT of {} answered {}", what, r.command_status()), "", "", false);
}

}  // namespace

job_checkpoint open_checkpoint(pq_session& db, const std::string& task_id, const file_identity& file) {
  const std::string size = num(file.size);
  const std::string mtime = std::to_string(file.mtime_micros);
  db.exec_params(create_sql, {task_id, size, mtime});
  pq_result r = db.exec_params(read_sql, {task_id, size, mtime});
  if (r.rows() != 1)
    throw app::task_error("RuntimeError",
                          fmt::format("celeriac.csv_import: the checkpoint of task {} vanished as it was created; "
                                      "is something deleting celeriac_import_checkpoints rows?",
                                      task_id));
  if (r.get(0, 4) != "t")
    throw app::task_error(
        "RuntimeError",
        fmt::format("celeriac.csv_import: the file changed since task {} began importing it (it was {} bytes, "
                    "modified {}; it is now {} bytes): resuming at the old offset would skip or repeat rows. Import "
                    "the new file under a new task id",
                    task_id, r.get(0, 5), r.get(0, 6), file.size));
  job_checkpoint jc;
  jc.position.byte_offset = get_u64(r, 0, 0);
  jc.position.line_number = get_u64(r, 0, 1);
  jc.position.rows_done = get_u64(r, 0, 2);
  jc.position.rows_rejected = get_u64(r, 0, 3);
  jc.part_count = static_cast<std::uint32_t>(r.get_int(0, 7));
  return jc;
}

std::vector<part_checkpoint> read_parts(pq_session& db, const std::string& task_id) {
  pq_result r = db.exec_params(parts_sql, {task_id});
  std::vector<part_checkpoint> parts;
  for (int i = 0; i < r.rows(); ++i) {
    part_checkpoint p;
    p.part = static_cast<std::uint32_t>(r.get_int(i, 0));
    p.start_offset = get_u64(r, i, 1);
    p.start_line = get_u64(r, i, 2);
    p.end_offset = get_u64(r, i, 3);
    p.at = import_checkpoint{get_u64(r, i, 4), get_u64(r, i, 5), get_u64(r, i, 6), get_u64(r, i, 7)};
    if (p.part != parts.size())
      throw app::task_error("RuntimeError",
                            fmt::format("celeriac.csv_import: part {} of task {} is missing from "
                                        "celeriac_import_parts; is something deleting its rows?",
                                        parts.size(), task_id));
    parts.push_back(p);
  }
  return parts;
}

std::vector<part_checkpoint> cut_into_parts(pq_session& db, const std::string& task_id,
                                            const std::vector<csv::split_point>& points, std::uint64_t file_size) {
  db.exec("BEGIN");
  pq_result r = db.exec_params(
      "SELECT byte_offset, coalesce(part_count, 0) FROM celeriac_import_checkpoints WHERE task_id = $1 FOR UPDATE",
      {task_id});
  if (r.rows() != 1) {
    db.exec("ROLLBACK");
    row_gone(task_id, "checkpoint");
  }
  if (r.get_int(0, 1) > 0 || r.get_int(0, 0) > 0) {
    // Cut by another delivery, or loading as one part: keep that.
    db.exec("ROLLBACK");
    return read_parts(db, task_id);
  }
  for (std::size_t i = 0; i <= points.size(); ++i) {
    const csv::split_point start = i == 0 ? csv::split_point{0, 1} : points[i - 1];
    const std::uint64_t end = i < points.size() ? points[i].offset : file_size;
    db.exec_params(
        "INSERT INTO celeriac_import_parts (task_id, part, start_offset, start_line, end_offset, byte_offset, "
        "line_number) VALUES ($1, $2, $3, $4, $5, $3, $4)",
        {task_id, num(i), num(start.offset), num(start.line), num(end)});
  }
  db.exec_params("UPDATE celeriac_import_checkpoints SET part_count = $2, updated_at = now() WHERE task_id = $1",
                 {task_id, num(points.size() + 1)});
  commit(db, "the cut into parts");
  return read_parts(db, task_id);
}

import_checkpoint read_part(pq_session& db, const std::string& task_id, std::uint32_t part) {
  pq_result r = db.exec_params(
      "SELECT byte_offset, line_number, rows_done, rows_rejected FROM celeriac_import_parts "
      "WHERE task_id = $1 AND part = $2",
      {task_id, num(part)});
  if (r.rows() != 1) row_gone(task_id, fmt::format("checkpoint of part {}", part));
  return import_checkpoint{get_u64(r, 0, 0), get_u64(r, 0, 1), get_u64(r, 0, 2), get_u64(r, 0, 3)};
}

std::optional<std::uint64_t> lock_checkpoint(pq_session& db, const checkpoint_slot& slot) {
  if (slot.part) {
    pq_result r = db.exec_params(
        "SELECT byte_offset FROM celeriac_import_parts WHERE task_id = $1 AND part = $2 FOR UPDATE",
        {slot.task_id, num(*slot.part)});
    if (r.rows() != 1) row_gone(slot.task_id, fmt::format("checkpoint of part {}", *slot.part));
    return get_u64(r, 0, 0);
  }
  pq_result r = db.exec_params(
      "SELECT byte_offset, part_count IS NULL FROM celeriac_import_checkpoints WHERE task_id = $1 FOR UPDATE",
      {slot.task_id});
  if (r.rows() != 1) row_gone(slot.task_id, "checkpoint");
  if (r.get(0, 1) != "t") return std::nullopt;  // cut into parts by another delivery
  return get_u64(r, 0, 0);
}

bool advance_checkpoint(pq_session& db, const checkpoint_slot& slot, const import_checkpoint& from,
                        const import_checkpoint& to) {
  if (!slot.part) {
    pq_result r = db.exec_params(
        "UPDATE celeriac_import_checkpoints SET byte_offset = $3, line_number = $4, rows_done = $5, "
        "rows_rejected = $6, updated_at = now() WHERE task_id = $1 AND byte_offset = $2 AND part_count IS NULL",
        {slot.task_id, num(from.byte_offset), num(to.byte_offset), num(to.line_number), num(to.rows_done),
         num(to.rows_rejected)});
    return r.affected() == 1;
  }
  // The part's row and the job's sums in one statement; the job row is
  // locked last and only until the COMMIT that follows, so parts wait on
  // each other for no longer than a commit.
  pq_result r = db.exec_params(
      "WITH moved AS (UPDATE celeriac_import_parts SET byte_offset = $4, line_number = $5, rows_done = $6, "
      "rows_rejected = $7, updated_at = now() WHERE task_id = $1 AND part = $2 AND byte_offset = $3 RETURNING 1) "
      "UPDATE celeriac_import_checkpoints SET rows_done = rows_done + $8, rows_rejected = rows_rejected + $9, "
      "updated_at = now() WHERE task_id = $1 AND EXISTS (SELECT FROM moved)",
      {slot.task_id, num(*slot.part), num(from.byte_offset), num(to.byte_offset), num(to.line_number),
       num(to.rows_done), num(to.rows_rejected), num(to.rows_done - from.rows_done),
       num(to.rows_rejected - from.rows_rejected)});
  return r.affected() == 1;
}

void flush_checkpoint(pq_session& db, const checkpoint_slot& slot) {
  db.exec("SET synchronous_commit TO on");
  if (slot.part)
    db.exec_params("UPDATE celeriac_import_parts SET updated_at = now() WHERE task_id = $1 AND part = $2",
                   {slot.task_id, num(*slot.part)});
  else
    db.exec_params("UPDATE celeriac_import_checkpoints SET updated_at = now() WHERE task_id = $1", {slot.task_id});
}

}  // namespace celeriac::tasks
