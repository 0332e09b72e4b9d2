#pragma once
// Versioned SQL migrations shipped inside the binary (lib/pg/migrations/,
// embedded at build time) and the runner behind `celeriac migrate`.
//
// Two sets, tracked separately in celeriac_schema_migrations:
//   engine  celeriac_* tables, always applied, in the connection's current
//           schema (the first schema of its search_path);
//   app     tables the job families work on (llm_mappings, ...), applied
//           only when asked, in a chosen schema, because an application may
//           already have its own. Asking later still works: each set has its
//           own versions.

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/connection>

namespace celeriac::pg {

struct migration {
  int version;            // from the file name NNNN_name.sql; applied in increasing order
  std::string_view name;  // "jobs", "csv_import", ...
  std::string_view sql;   // app migrations say {{schema}} where the schema goes
};

// The embedded sets, in version order.
std::span<const migration> engine_migrations() noexcept;
std::span<const migration> app_migrations() noexcept;

struct migrate_options {
  bool with_app_tables = false;    // also apply the app set
  std::string app_schema = "public";  // where the app set goes; must pass valid_identifier()
};

struct applied_migration {
  std::string component;  // "engine" or "app"
  std::string schema;     // schema the migration's objects were created in
  int version = 0;
  std::string name;
};

struct migrate_report {
  std::vector<applied_migration> applied;  // applied by this run, in order
  std::size_t already_applied = 0;         // found applied before this run
  // WARNINGs the server raised while applying them (a migration that could
  // not do all it meant to says so this way), each with its HINT.
  std::vector<std::string> warnings;
};

// Key of the session advisory lock held for a whole migrate() run: the bytes
// of "celeriac". Another program using the same key would wait on us.
inline constexpr std::int64_t migration_lock_key = 0x63656c6572696163;

// A migration that failed; what() names it and carries the server's reason.
// The original exception is nested (std::rethrow_if_nested).
class migration_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Brings the database up to date. Takes pg_advisory_lock(migration_lock_key)
// for the whole run, so concurrent runs (several workers starting at once)
// queue instead of racing; creates celeriac_schema_migrations if needed; then
// applies each pending migration in its own transaction together with its
// row in celeriac_schema_migrations. A second run applies nothing.
//
// Throws std::invalid_argument (before touching the database) for an
// invalid app_schema; migration_error when a migration fails, in which case
// that migration is rolled back and the ones before it stay applied; pqxx
// exceptions for connection trouble. The lock is released in every case
// (or with the session, if the connection broke). `c` must not have a
// transaction open.
migrate_report migrate(pqxx::connection& c, const migrate_options& options = {});

}  // namespace celeriac::pg
