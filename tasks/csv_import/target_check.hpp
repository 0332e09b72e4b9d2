#pragma once
// Before loading anything: does the target table take what the import
// will send? Binary COPY needs each column's exact type, so a mismatch
// would otherwise fail every row (and be searched for row by row); a
// missing column or an unfilled NOT NULL column would fail every row too.

#include "csv/profile.hpp"
#include "tasks/csv_import/import_sql.hpp"
#include "tasks/csv_import/pq_session.hpp"

namespace celeriac::tasks {

// Checks `sql.table` against the profile's columns:
//   - the table exists;
//   - every profile column exists with the type the import loads it as
//     (csv::pg_type_name; text also loads into varchar), a domain over it
//     counting as that type;
//   - every NOT NULL column the file does not fill has a default (or is an
//     identity or generated column).
// Throws app::task_error (ValueError) naming the table, the column and the
// fix; pq_error on database failures.
void check_target_table(pq_session& db, const import_sql& sql, const csv::import_profile& profile);

}  // namespace celeriac::tasks
