#include "tasks/csv_import/import_sql.hpp"

#include <fmt/format.h>

#include "pg/sql_text.hpp"

namespace celeriac::tasks {

namespace {

std::string joined(const std::vector<std::string>& names, std::string_view prefix = {}) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += prefix;
    out += pg::quote_identifier(n);
  }
  return out;
}

}  // namespace

import_sql build_import_sql(const import_request& request) {
  import_sql s;
  for (const std::string& part : request.table_parts) {
    if (!s.table.empty()) {
      s.table += '.';
      s.table_text += '.';
    }
    s.table += pg::quote_identifier(part);
    s.table_text += part;
  }
  std::vector<std::string> columns;
  for (const csv::column_spec& c : request.profile.columns) columns.push_back(c.name);
  s.column_list = joined(columns);

  if (request.mode == import_mode::insert) {
    s.copy_rows = fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", s.table, s.column_list);
    return s;
  }
  const std::string stage = fmt::format("pg_temp.{}", pg::quote_identifier(stage_table));
  const std::string order = pg::quote_identifier(stage_order_column);
  // The stage copies the table's column types, so the binary rows that fit
  // the table fit the stage; ON COMMIT DELETE ROWS empties it after every
  // chunk even if a step forgot to.
  s.create_stage = fmt::format(
      "DROP TABLE IF EXISTS {stage}; "
      "CREATE TEMP TABLE {name} ON COMMIT DELETE ROWS AS SELECT {cols} FROM {table} WITH NO DATA; "
      "ALTER TABLE {stage} ADD COLUMN {order} bigint NOT NULL",
      fmt::arg("stage", stage), fmt::arg("name", pg::quote_identifier(stage_table)), fmt::arg("cols", s.column_list),
      fmt::arg("table", s.table), fmt::arg("order", order));
  s.copy_rows = fmt::format("COPY {} ({}, {}) FROM STDIN (FORMAT binary)", stage, s.column_list, order);

  const std::string keys = joined(request.profile.key_columns);
  std::vector<std::string> updates;
  for (const csv::column_spec& c : request.profile.columns) {
    bool is_key = false;
    for (const std::string& k : request.profile.key_columns) is_key = is_key || k == c.name;
    if (!is_key) updates.push_back(fmt::format("{0} = EXCLUDED.{0}", pg::quote_identifier(c.name)));
  }
  const std::string on_conflict =
      updates.empty() ? std::string("DO NOTHING") : fmt::format("DO UPDATE SET {}", fmt::join(updates, ", "));
  // Taking the rows out of the stage in the same statement leaves it empty
  // for the next part of the chunk (a savepoint rolls both back together).
  s.apply_stage = fmt::format(
      "WITH moved AS (DELETE FROM {stage} RETURNING *) "
      "INSERT INTO {table} ({cols}) "
      "SELECT DISTINCT ON ({keys}) {cols} FROM moved ORDER BY {keys}, {order} DESC "
      "ON CONFLICT ({keys}) {on_conflict}",
      fmt::arg("stage", stage), fmt::arg("table", s.table), fmt::arg("cols", s.column_list), fmt::arg("keys", keys),
      fmt::arg("order", order), fmt::arg("on_conflict", on_conflict));
  return s;
}

}  // namespace celeriac::tasks
