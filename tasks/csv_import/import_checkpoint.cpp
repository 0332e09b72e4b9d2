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
    "coalesce(file_size::text, 'unknown'), coalesce(file_mtime::text, 'unknown') "
    "FROM celeriac_import_checkpoints WHERE task_id = $1";

#undef CELERIAC_MTIME

}  // namespace

import_checkpoint open_checkpoint(pq_session& db, const std::string& task_id, const file_identity& file) {
  const std::string size = std::to_string(file.size);
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
  import_checkpoint cp;
  cp.byte_offset = static_cast<std::uint64_t>(r.get_int(0, 0));
  cp.line_number = static_cast<std::uint64_t>(r.get_int(0, 1));
  cp.rows_done = static_cast<std::uint64_t>(r.get_int(0, 2));
  cp.rows_rejected = static_cast<std::uint64_t>(r.get_int(0, 3));
  return cp;
}

std::uint64_t lock_checkpoint(pq_session& db, const std::string& task_id) {
  pq_result r = db.exec_params(
      "SELECT byte_offset FROM celeriac_import_checkpoints WHERE task_id = $1 FOR UPDATE", {task_id});
  if (r.rows() != 1)
    throw app::task_error("RuntimeError",
                          fmt::format("celeriac.csv_import: the checkpoint of task {} was deleted during the import",
                                      task_id));
  return static_cast<std::uint64_t>(r.get_int(0, 0));
}

bool advance_checkpoint(pq_session& db, const std::string& task_id, const import_checkpoint& from,
                        const import_checkpoint& to) {
  pq_result r = db.exec_params(
      "UPDATE celeriac_import_checkpoints SET byte_offset = $3, line_number = $4, rows_done = $5, "
      "rows_rejected = $6, updated_at = now() WHERE task_id = $1 AND byte_offset = $2",
      {task_id, std::to_string(from.byte_offset), std::to_string(to.byte_offset), std::to_string(to.line_number),
       std::to_string(to.rows_done), std::to_string(to.rows_rejected)});
  return r.affected() == 1;
}

}  // namespace celeriac::tasks
