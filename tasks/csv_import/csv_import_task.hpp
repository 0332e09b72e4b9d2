#pragma once
// celeriac.csv_import: bulk-loads an uploaded CSV file into a table with
// binary COPY, chunk by chunk, exactly once across retries, redeliveries
// and crashes. Arguments: see import_request.hpp; the design and the
// tables: docs/csv-import.md.
//
// Needs a worker started with --database and --upload-dir (and
// --import-tables for explicit column specs). Reports progress in bytes,
// with rows_loaded / rows_rejected in its meta, and returns
//   {"rows_loaded": N, "rows_rejected": N, "seconds": S, "rows_per_second": R,
//    "table": "...", "mode": "insert", "resumed": false}
// where the row counts cover the whole job (every delivery) and seconds /
// rows_per_second this delivery's run.

#include "app/task_registry.hpp"

namespace celeriac::tasks {

inline constexpr const char* csv_import_task_name = "celeriac.csv_import";

void register_csv_import_task(app::task_registry& registry);

}  // namespace celeriac::tasks
