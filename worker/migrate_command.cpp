// `celeriac migrate`: brings a PostgreSQL database up to date with the
// migrations built into this binary (pg::migrate; docs/postgres.md).

#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <pqxx/connection>
#include <pqxx/except>

#include "pg/conninfo.hpp"
#include "pg/migrations.hpp"
#include "pg/sql_text.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

constexpr int exit_failed = 1;        // a migration failed (it was rolled back)
constexpr int exit_unavailable = 69;  // the database cannot be reached (EX_UNAVAILABLE)

}  // namespace

int migrate_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac migrate [options]\n\n"
      "Creates or updates celeriac's tables (celeriac_jobs, celeriac_import_errors, ...) in a PostgreSQL\n"
      "database. Each migration is applied once, in its own transaction, under an advisory lock, so\n"
      "several workers may run this at start-up together. Running it again applies nothing.\n\n"
      "Options");
  std::string database, schema;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("database", po::value(&database), "PostgreSQL URL (env CELERIAC_DATABASE_URL)")
    ("with-app-tables", "also create the tables the job families work on (llm_mappings, ...); an existing table "
                        "of the same name is left as it is")
    ("schema", po::value(&schema)->default_value("public"), "schema for the app tables (created if missing); "
                                                            "celeriac_* tables go to the connection's current schema");
  // clang-format on
  po::variables_map vm;
  if (auto done = parse_options("migrate", argc, argv, opts, vm)) return *done;
  if (!resolve_database_url("migrate", database)) return exit_usage;
  if (!pg::valid_identifier(schema)) {
    std::cerr << fmt::format(
        "celeriac migrate: --schema '{}' is not a valid schema name (ASCII letters, digits and '_', not starting "
        "with a digit, at most 63 bytes)\n",
        schema);
    return exit_usage;
  }
  pg::migrate_options options;
  options.with_app_tables = vm.count("with-app-tables") > 0;
  options.app_schema = schema;
  const std::string redacted = pg::redact_conninfo(database);
  try {
    pqxx::connection c{pg::with_default_param(pg::with_default_param(database, "connect_timeout", "10"),
                                              "application_name", "celeriac-migrate")};
    const pg::migrate_report report = pg::migrate(c, options);
    for (const auto& m : report.applied)
      std::cout << fmt::format("applied {} migration {:04}_{} (schema {})\n", m.component, m.version, m.name, m.schema);
    for (const auto& w : report.warnings) std::cerr << fmt::format("celeriac migrate: {}\n", w);
    std::cout << fmt::format("{} is up to date: {} migration{} applied now, {} before\n", redacted,
                             report.applied.size(), report.applied.size() == 1 ? "" : "s", report.already_applied);
    return 0;
  } catch (const pqxx::broken_connection& e) {
    std::cerr << fmt::format("celeriac migrate: cannot reach PostgreSQL at {}: {}", redacted, e.what());
    return exit_unavailable;
  } catch (const pg::migration_error& e) {
    std::cerr << fmt::format("celeriac migrate: {}\n(the migrations before it stay applied; fix the cause and run "
                             "migrate again)\n",
                             e.what());
    return exit_failed;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("celeriac migrate: {} ({})\n", e.what(), redacted);
    return exit_failed;
  }
}

}  // namespace celeriac::cli
