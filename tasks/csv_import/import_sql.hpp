#pragma once
// The SQL an import runs, built once from its request. Identifiers are
// validated (import_request) and double-quoted here; values always travel
// as parameters or COPY data.

#include <string>
#include <vector>

#include "tasks/csv_import/import_request.hpp"

namespace celeriac::tasks {

// The temporary table an upsert stages each chunk in (one per load
// connection), and its extra column holding each row's position in the
// chunk, which makes the last of several rows with one key win.
inline constexpr const char* stage_table = "celeriac_import_stage";
inline constexpr const char* stage_order_column = "celeriac_ord";

struct import_sql {
  std::string table;         // "public"."llm_mappings" (quoted parts)
  std::string table_text;    // as written in messages: public.llm_mappings
  std::string column_list;   // "merchant_name", "category", ...
  // insert: COPY <table> (<columns>) FROM STDIN (FORMAT binary)
  // upsert: the same into the stage table, with the order column last
  std::string copy_rows;
  // upsert only (empty for insert):
  std::string create_stage;  // (re)creates the stage table on this connection
  // Moves the staged rows into the table: one row per key, the one with
  // the highest order; existing rows with that key are updated.
  std::string apply_stage;
};

// Throws std::invalid_argument for an identifier that is not valid (which
// parse_import_request has already excluded).
import_sql build_import_sql(const import_request& request);

// COPY for celeriac_import_errors (task_id, line_number, column_name,
// reason, raw_record), binary.
inline constexpr const char* copy_errors_sql =
    "COPY celeriac_import_errors (task_id, line_number, column_name, reason, raw_record) FROM STDIN (FORMAT binary)";

}  // namespace celeriac::tasks
