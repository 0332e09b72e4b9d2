#pragma once
// What a worker lends its tasks beyond their arguments: where the database
// is, which folder uploads may be read from, which tables a caller may name.
//
// Set once per worker process, before any task runs (`celeriac worker`
// sets it from --database, --upload-dir and --import-tables before forking
// its children, which inherit it); tasks read it through
// task_context::resources(). lib/app stays free of a database library: a
// task that needs PostgreSQL opens its own connection to database_url (a
// CSV import wants a dedicated connection for COPY anyway).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace celeriac::app {

struct task_resources {
  // libpq connection string (--database); nullopt: the worker has none, and
  // tasks that need one fail with a message saying so.
  std::optional<std::string> database_url;
  // Canonical absolute folder uploads are read from (--upload-dir); empty:
  // no uploads may be read. (A string, not a std::filesystem::path: with
  // <filesystem> included before it, g++ 12 crashes compiling the worker's
  // consumer at -O0.)
  std::string upload_dir;
  // Tables a job may name with an explicit column spec (--import-tables),
  // as written there: "table" or "schema.table". Named import profiles are
  // not limited by it: the worker's own code chose their tables.
  std::vector<std::string> import_tables;

  // The broker's Redis URL, for state tasks share across every worker of
  // the cluster (the LLM providers' rate limits). Tasks never read or
  // write queues through it. Empty: no cluster-wide state (limits are then
  // not enforced, and the task says so).
  std::string redis_url;

  // True when `table` is on the allow-list (exact, case-sensitive match).
  bool import_table_allowed(std::string_view table) const noexcept;
};

// Replaces the process-wide resources. Call before tasks run (not
// thread-safe against tasks reading them).
void set_process_task_resources(task_resources resources);

// The process-wide resources (empty ones until set).
const task_resources& process_task_resources() noexcept;

}  // namespace celeriac::app
