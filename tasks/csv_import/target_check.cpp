#include "tasks/csv_import/target_check.hpp"

#include <map>

#include <fmt/format.h>

#include "app/task_error.hpp"

namespace celeriac::tasks {

namespace {

// pg_type OIDs (stable since PostgreSQL 7).
constexpr std::int64_t oid_bool = 16;
constexpr std::int64_t oid_int8 = 20;
constexpr std::int64_t oid_text = 25;
constexpr std::int64_t oid_float8 = 701;
constexpr std::int64_t oid_varchar = 1043;
constexpr std::int64_t oid_timestamptz = 1184;

bool accepts(csv::column_kind kind, std::int64_t base_type) {
  switch (kind) {
    case csv::column_kind::text:
    case csv::column_kind::enumeration: return base_type == oid_text || base_type == oid_varchar;
    case csv::column_kind::integer: return base_type == oid_int8;
    case csv::column_kind::floating: return base_type == oid_float8;
    case csv::column_kind::boolean: return base_type == oid_bool;
    case csv::column_kind::timestamptz: return base_type == oid_timestamptz;
  }
  return false;
}

app::task_error bad_table(const std::string& message) {
  return app::task_error("ValueError", "celeriac.csv_import: " + message);
}

}  // namespace

void check_target_table(pq_session& db, const import_sql& sql, const csv::import_profile& profile) {
  pq_result exists = db.exec_params("SELECT to_regclass($1) IS NOT NULL", {sql.table});
  if (exists.rows() != 1 || exists.get(0, 0) != "t")
    throw bad_table(fmt::format("table {} does not exist{}", sql.table_text,
                                profile.name == "llm_mappings"
                                    ? " (create it with `celeriac migrate --with-app-tables`)"
                                    : ""));
  pq_result r = db.exec_params(
      "SELECT a.attname, coalesce(nullif(t.typbasetype, 0), t.oid)::int8, format_type(a.atttypid, a.atttypmod), "
      "a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '' "
      "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
      "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
      {sql.table});
  struct column {
    std::int64_t base_type;
    std::string type_text;
    bool needs_value;
  };
  std::map<std::string, column, std::less<>> columns;
  for (int i = 0; i < r.rows(); ++i)
    columns.emplace(std::string(r.get(i, 0)), column{r.get_int(i, 1), std::string(r.get(i, 2)), r.get(i, 3) == "t"});

  for (const csv::column_spec& c : profile.columns) {
    auto it = columns.find(c.name);
    if (it == columns.end())
      throw bad_table(fmt::format("table {} has no column {} (the file's columns must all exist in it)", sql.table_text,
                                  c.name));
    if (!accepts(c.kind, it->second.base_type))
      throw bad_table(fmt::format(
          "column {} of table {} is {}, but the import loads it as {}; binary COPY needs that exact type: change the "
          "column's type or the column spec",
          c.name, sql.table_text, it->second.type_text, csv::pg_type_name(c.kind)));
  }
  for (const auto& [name, col] : columns) {
    if (!col.needs_value || profile.column_index(name) < profile.columns.size()) continue;
    throw bad_table(fmt::format(
        "column {} of table {} is NOT NULL without a default, and the file does not fill it: every row would be "
        "refused; give it a default or add it to the file's columns",
        name, sql.table_text));
  }
}

}  // namespace celeriac::tasks
