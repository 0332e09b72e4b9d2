#include "tasks/csv_import/import_request.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "app/args.hpp"
#include "app/task_error.hpp"
#include "pg/sql_text.hpp"

namespace celeriac::tasks {

namespace {

constexpr const char* task_name = "celeriac.csv_import";

enum param : std::size_t { p_path, p_profile, p_columns, p_table, p_key, p_mode, p_chunk_rows, p_max_errors,
                           p_delimiter, p_header, p_parallel };

app::task_error value_error(const std::string& message) { return app::task_error("ValueError", message); }

// An optional argument: nullptr when omitted or JSON null (Python's None).
const json::value* optional(const app::bound_args& a, std::size_t i) {
  const json::value* v = a.get(i);
  return v && !v->is_null() ? v : nullptr;
}

const std::string* optional_string(const app::bound_args& a, std::size_t i) {
  const json::value* v = optional(a, i);
  if (!v) return nullptr;
  return &a.string(i);  // TypeError naming the argument when not a string
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(sep, start);
    std::string part(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    const auto first = part.find_first_not_of(' ');
    const auto last = part.find_last_not_of(' ');
    out.push_back(first == std::string::npos ? std::string() : part.substr(first, last - first + 1));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::vector<std::string> table_parts(std::string_view table, std::string_view origin) {
  std::vector<std::string> parts = split(table, '.');
  if (parts.size() > 2 || std::any_of(parts.begin(), parts.end(), [](const std::string& p) {
        return !pg::valid_identifier(p);
      }))
    throw value_error(fmt::format(
        "{}: table '{}' {}is not a valid table name; use name or schema.name, each of ASCII letters, digits and "
        "'_' (not starting with a digit, at most 63 bytes)",
        task_name, table, origin));
  return parts;
}

std::vector<std::string> key_columns(const json::value& key) {
  std::vector<std::string> out;
  if (key.is_string()) {
    out = split(key.as_string(), ',');
  } else if (key.is_array()) {
    for (const json::value& k : key.as_array()) {
      if (!k.is_string()) throw app::type_error(fmt::format("{}(): argument 'key' must be a string or a list of strings", task_name));
      out.push_back(k.as_string());
    }
  } else {
    throw app::type_error(fmt::format("{}(): argument 'key' must be a string or a list of strings", task_name));
  }
  return out;
}

std::string profile_names() {
  std::string names;
  for (const csv::import_profile& p : csv::builtin_profiles()) names += (names.empty() ? "" : ", ") + p.name;
  return names;
}

}  // namespace

std::size_t default_parallel() noexcept {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, max_default_parallel);
}

std::string_view to_string(import_mode mode) noexcept { return mode == import_mode::insert ? "insert" : "upsert"; }

import_request parse_import_request(const json::array& args, const json::object& kwargs,
                                    const app::task_resources& resources) {
  app::bound_args a(task_name, args, kwargs,
                    {"path", "profile", "columns", "table", "key", "mode", "chunk_rows", "max_errors", "delimiter",
                     "header", "parallel"},
                    1);
  import_request r;
  r.path = a.string(p_path);
  if (r.path.empty()) throw value_error(fmt::format("{}: path is empty; give the upload's file name", task_name));

  const std::string* profile = optional_string(a, p_profile);
  const std::string* columns = optional_string(a, p_columns);
  const std::string* table = optional_string(a, p_table);
  if (profile && (columns || table))
    throw value_error(fmt::format("{}: give either profile or columns and table, not both", task_name));
  if (profile) {
    const csv::import_profile* found = csv::find_profile(*profile);
    if (!found)
      throw value_error(fmt::format("{}: unknown import profile '{}'; known profiles: {}", task_name, *profile,
                                    profile_names()));
    r.profile = *found;
    r.table_parts = table_parts(r.profile.table, "of the profile ");
    if (optional(a, p_key))
      throw value_error(fmt::format("{}: key is only for an explicit column spec; profile '{}' has its own key",
                                    task_name, *profile));
  } else if (columns || table) {
    if (!columns || !table)
      throw value_error(fmt::format("{}: an explicit column spec needs both columns and table", task_name));
    r.table_parts = table_parts(*table, "");
    if (!resources.import_table_allowed(*table))
      throw app::task_error(
          "PermissionError",
          fmt::format("{}: table '{}' is not on this worker's --import-tables allow-list, so an explicit column spec "
                      "may not load it; use a named profile or add the table to --import-tables",
                      task_name, *table));
    auto spec = csv::parse_column_spec(*columns);
    if (!spec) throw value_error(fmt::format("{}: bad columns: {}", task_name, spec.error().message));
    r.profile.table = *table;
    r.profile.columns = std::move(*spec);
    r.explicit_columns = true;
    if (const json::value* key = optional(a, p_key)) r.profile.key_columns = key_columns(*key);
  } else {
    throw value_error(fmt::format("{}: say what the file holds: profile (one of: {}) or columns and table",
                                  task_name, profile_names()));
  }

  if (const std::string* mode = optional_string(a, p_mode)) {
    if (*mode == "insert") {
      r.mode = import_mode::insert;
    } else if (*mode == "upsert") {
      r.mode = import_mode::upsert;
    } else {
      throw value_error(fmt::format("{}: mode must be 'insert' or 'upsert', not '{}'", task_name, *mode));
    }
  }
  if (r.mode == import_mode::upsert) {
    if (r.profile.key_columns.empty())
      throw value_error(fmt::format("{}: mode 'upsert' needs key columns (key=\"a,b\")", task_name));
    for (const std::string& k : r.profile.key_columns) {
      const std::size_t i = r.profile.column_index(k);
      if (i == r.profile.columns.size())
        throw value_error(fmt::format("{}: key column '{}' is not one of the file's columns", task_name, k));
      if (!r.profile.columns[i].not_null)
        throw value_error(fmt::format(
            "{}: key column '{}' must be declared not null ('{}:type!'): rows with a NULL key cannot be matched",
            task_name, k, k));
    }
    std::vector<std::string> sorted = r.profile.key_columns;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      throw value_error(fmt::format("{}: key names a column twice", task_name));
  }

  if (optional(a, p_chunk_rows)) {
    const std::int64_t n = a.integer(p_chunk_rows);
    if (n < 1 || n > max_chunk_rows)
      throw value_error(fmt::format("{}: chunk_rows must be between 1 and {}, not {}", task_name, max_chunk_rows, n));
    r.chunk_rows = static_cast<std::size_t>(n);
  }
  if (optional(a, p_max_errors)) {
    const std::int64_t n = a.integer(p_max_errors);
    if (n < 0) throw value_error(fmt::format("{}: max_errors cannot be negative ({})", task_name, n));
    r.max_errors = static_cast<std::uint64_t>(n);
  }
  if (const std::string* d = optional_string(a, p_delimiter)) {
    const bool ok = d->size() == 1 && static_cast<unsigned char>((*d)[0]) < 0x80 && (*d)[0] != '"' &&
                    (*d)[0] != '\r' && (*d)[0] != '\n' && (*d)[0] != '\0';
    if (!ok)
      throw value_error(fmt::format("{}: delimiter must be one ASCII character other than '\"', CR, LF and NUL",
                                    task_name));
    r.delimiter = (*d)[0];
  }
  if (const json::value* h = optional(a, p_header)) {
    if (!h->is_bool()) throw app::type_error(fmt::format("{}(): argument 'header' must be a boolean", task_name));
    r.header = h->as_bool();
  }
  r.parallel = r.mode == import_mode::upsert ? 1 : default_parallel();
  if (optional(a, p_parallel)) {
    const std::int64_t n = a.integer(p_parallel);
    if (n < 1 || n > max_parallel)
      throw value_error(fmt::format("{}: parallel must be between 1 and {}, not {}", task_name, max_parallel, n));
    if (n > 1 && r.mode == import_mode::upsert)
      throw value_error(fmt::format(
          "{}: mode 'upsert' loads as one part (the last row of the file per key wins, which parts loading at once "
          "cannot promise); leave parallel out or set it to 1",
          task_name));
    r.parallel = static_cast<std::size_t>(n);
  }
  return r;
}

}  // namespace celeriac::tasks
