#pragma once
// The arguments of celeriac.csv_import, bound and checked before any file
// or database is touched.
//
//   celeriac.csv_import(path, profile=None, columns=None, table=None, key=None,
//                       mode="insert", chunk_rows=10000, max_errors=1000,
//                       delimiter=",", header=True, parallel=<cores, at most 4>)
//
//   path        the upload, relative to the worker's --upload-dir (or an
//               absolute path inside it); see upload_file.hpp
//   profile     a named import profile (csv::find_profile), or
//   columns     an explicit column spec (csv::parse_column_spec) together
//   + table     with the target table ("name" or "schema.name"), which must
//               be on the worker's --import-tables allow-list
//   key         upsert key columns for an explicit spec ("a,b" or ["a", "b"]);
//               a profile brings its own
//   mode        "insert" (COPY into the table) or "upsert" (staging table,
//               INSERT ... ON CONFLICT (key) DO UPDATE, last row wins)
//   chunk_rows  records per transaction (1 to 1,000,000)
//   max_errors  rejected rows tolerated; one more fails the job
//   delimiter   one ASCII byte, not '"', CR or LF
//   header      the file starts with a header naming the columns in order
//   parallel    parts loaded at once, each on its own connection and thread
//               (1 to 16; default: this machine's cores, at most 4; an
//               upsert loads as one part). Decided when the job first
//               starts: a resume keeps the parts it was cut into.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "app/task_resources.hpp"
#include "csv/profile.hpp"
#include "json/value.hpp"

namespace celeriac::tasks {

enum class import_mode { insert, upsert };

// Bounds on chunk_rows: a chunk is one transaction and its rows are held in
// memory while it is written.
inline constexpr std::int64_t max_chunk_rows = 1'000'000;
inline constexpr std::int64_t default_chunk_rows = 10'000;
inline constexpr std::int64_t default_max_errors = 1'000;
// Parts of a parallel import: each holds a connection and a thread.
inline constexpr std::int64_t max_parallel = 16;
inline constexpr std::size_t max_default_parallel = 4;

struct import_request {
  std::string path;  // as given; resolved against the upload folder later
  // The shape of the file and where it goes: a copy of the named profile,
  // or one built from columns/table/key (its name is then empty).
  csv::import_profile profile;
  bool explicit_columns = false;
  // The target table's parts, each a valid identifier: {"llm_mappings"} or
  // {"app", "llm_mappings"}.
  std::vector<std::string> table_parts;
  import_mode mode = import_mode::insert;
  std::size_t chunk_rows = default_chunk_rows;
  std::uint64_t max_errors = default_max_errors;
  char delimiter = ',';
  bool header = true;
  std::size_t parallel = 1;  // parse_import_request's default: default_parallel()
};

// The machine's cores, at most max_default_parallel (1 when unknown).
std::size_t default_parallel() noexcept;

// Binds and checks the task's arguments. Throws app::argument_error
// (TypeError: a missing, unknown or mistyped argument; the worker
// dead-letters such a message) or app::task_error with ValueError (a value
// out of range, an unknown profile, a bad column spec or key) or
// PermissionError (a table not on the allow-list). Nothing is read or
// connected to.
import_request parse_import_request(const json::array& args, const json::object& kwargs,
                                    const app::task_resources& resources);

// "insert" or "upsert".
std::string_view to_string(import_mode mode) noexcept;

}  // namespace celeriac::tasks
