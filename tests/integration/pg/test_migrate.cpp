#include <doctest/doctest.h>

#include <barrier>
#include <initializer_list>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "pg/migrations.hpp"
#include "pg_test_util.hpp"

using namespace celeriac;

namespace {

bool table_exists(pqxx::connection& c, const std::string& schema, const std::string& table) {
  pqxx::work tx{c};
  return !tx.exec_params("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
                         schema, table)
              .empty();
}

std::vector<std::string> index_names(pqxx::connection& c, const std::string& schema, const std::string& table) {
  pqxx::work tx{c};
  std::vector<std::string> out;
  for (const auto& row :
       tx.exec_params("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1", schema,
                      table))
    out.push_back(row[0].as<std::string>());
  return out;
}

// A database whose default collation is linguistic (ICU's en-US), as most
// hosts' initdb gives; the test server's own default is "C".
std::string fresh_linguistic_database(const std::string& prefix) {
  const std::string name = prefix + "_" + std::to_string(::getpid());
  pqxx::connection admin{test::shared_pg_server().url()};
  pqxx::nontransaction tx{admin};
  tx.exec("CREATE DATABASE " + tx.quote_name(name) + " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
  return test::shared_pg_server().url(name);
}

std::string collation_of(pqxx::connection& c, const std::string& table, const std::string& column) {
  pqxx::work tx{c};
  auto r = tx.exec_params1("SELECT coalesce(collation_name, '(default)') FROM information_schema.columns "
                           "WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
                           table, column);
  return r[0].as<std::string>();
}

// The task ids of celeriac_jobs in the column's own order.
std::vector<std::string> ordered_task_ids(pqxx::connection& c) {
  pqxx::work tx{c};
  std::vector<std::string> out;
  for (const auto& row : tx.exec("SELECT task_id FROM celeriac_jobs ORDER BY task_id")) out.push_back(row[0].c_str());
  return out;
}

constexpr std::pair<const char*, const char*> bytewise_columns[] = {
    {"celeriac_jobs", "task_id"},
    {"celeriac_jobs", "state"},
    {"celeriac_import_errors", "task_id"},
    {"celeriac_import_checkpoints", "task_id"},
    {"celeriac_import_parts", "task_id"}};

// Migrates a database to how it was before migration 0005, then runs
// `then` (rows, an application's objects) in the same transaction.
void migrate_to_before_0005(pqxx::connection& c, std::initializer_list<const char*> then) {
  pg::migrate(c);
  pqxx::work tx{c};
  for (const auto& [table, column] : bytewise_columns)
    tx.exec(fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE text COLLATE \"default\"", table, column));
  tx.exec("DELETE FROM celeriac_schema_migrations WHERE component = 'engine' AND version = 5");
  for (const char* sql : then) tx.exec(sql);
  tx.commit();
}

}  // namespace

TEST_SUITE("integration") {

TEST_CASE("migrate applies the engine set once; a second run is a no-op") {
  pqxx::connection c{test::fresh_database("migrate_once")};
  auto first = pg::migrate(c);
  CHECK(first.applied.size() == pg::engine_migrations().size());
  CHECK(first.already_applied == 0);
  CHECK(first.warnings.empty());
  for (const auto& m : first.applied) {
    CHECK(m.component == "engine");
    CHECK(m.schema == "public");
  }
  for (auto t : {"celeriac_jobs", "celeriac_import_errors", "celeriac_import_checkpoints", "celeriac_schema_migrations"})
    CHECK_MESSAGE(table_exists(c, "public", t), t);
  CHECK_FALSE(table_exists(c, "public", "llm_mappings"));

  auto second = pg::migrate(c);
  CHECK(second.applied.empty());
  CHECK(second.already_applied == pg::engine_migrations().size());

  pqxx::work tx{c};
  CHECK(tx.exec1("SELECT count(*) FROM celeriac_schema_migrations")[0].as<std::size_t>() ==
        pg::engine_migrations().size());
  // The lock is released: another session can take it at once.
  CHECK(tx.exec_params1("SELECT pg_try_advisory_lock($1)", pg::migration_lock_key)[0].as<bool>());
}

TEST_CASE("app tables come only with the flag, in the chosen schema, tracked separately") {
  pqxx::connection c{test::fresh_database("migrate_app")};
  pg::migrate(c);
  CHECK_FALSE(table_exists(c, "public", "llm_mappings"));

  auto report = pg::migrate(c, {.with_app_tables = true, .app_schema = "app_x"});
  REQUIRE(report.applied.size() == pg::app_migrations().size());
  CHECK(report.applied[0].component == "app");
  CHECK(report.applied[0].schema == "app_x");
  CHECK(report.already_applied == pg::engine_migrations().size());
  CHECK(table_exists(c, "app_x", "llm_mappings"));
  CHECK_FALSE(table_exists(c, "public", "llm_mappings"));
  CHECK(index_names(c, "app_x", "llm_mappings") ==
        std::vector<std::string>{"llm_mappings_category_idx", "llm_mappings_lower_merchant_name_idx",
                                 "llm_mappings_merchant_key_idx", "llm_mappings_pending_id_idx", "llm_mappings_pkey",
                                 "llm_mappings_status_created_at_idx", "llm_mappings_unkeyed_id_idx"});
  for (const char* t : {"merchant_mappings", "merchant_mapping_requests", "ai_interactions", "ai_interactions_default",
                        "dashboard_stats", "daily_mapping_stats"})
    CHECK_MESSAGE(table_exists(c, "app_x", t), t);

  // Another schema is its own target; the same schema again is a no-op.
  CHECK(pg::migrate(c, {.with_app_tables = true, .app_schema = "public"}).applied.size() ==
        pg::app_migrations().size());
  CHECK(table_exists(c, "public", "llm_mappings"));
  CHECK(pg::migrate(c, {.with_app_tables = true, .app_schema = "app_x"}).applied.empty());

  // The table's rules hold: a bare insert waits for the model, a row that
  // arrives with a category is already answered (source 'upload').
  pqxx::work tx{c};
  auto row = tx.exec1("INSERT INTO app_x.llm_mappings (merchant_name) VALUES ('ACME') RETURNING status, admin_approved");
  CHECK(row[0].as<std::string>() == "pending");
  CHECK_FALSE(row[1].as<bool>());
  auto answered = tx.exec1("INSERT INTO app_x.llm_mappings (merchant_name, category) VALUES ('ACME 2', 'Shopping') "
                           "RETURNING status, source, mapped_at IS NOT NULL");
  CHECK(answered[0].as<std::string>() == "mapped");
  CHECK(answered[1].as<std::string>() == "upload");
  CHECK(answered[2].as<bool>());
  tx.commit();
  pqxx::work bad{c};
  CHECK_THROWS_AS(bad.exec("INSERT INTO app_x.llm_mappings (merchant_name, confidence) VALUES ('x', 1.5)"),
                  pqxx::check_violation);
}

TEST_CASE("an application's own llm_mappings table is left alone") {
  pqxx::connection c{test::fresh_database("migrate_existing")};
  {
    pqxx::work tx{c};
    // The application's table has what the job families read (0001's
    // columns) and one of its own; migrating adds celeriac's columns and
    // leaves the rest as it was.
    tx.exec("CREATE TABLE llm_mappings (id bigserial PRIMARY KEY, merchant_name text NOT NULL, category text, "
            "ticker text, confidence double precision, user_id bigint, status text NOT NULL DEFAULT 'pending', "
            "admin_approved boolean NOT NULL DEFAULT false, source text, created_at timestamptz NOT NULL DEFAULT "
            "now(), updated_at timestamptz, extra text)");
    tx.commit();
  }
  pg::migrate(c, {.with_app_tables = true});
  pqxx::work tx{c};
  CHECK(tx.exec1("SELECT count(*) FROM information_schema.columns WHERE table_name = 'llm_mappings' AND "
                 "column_name = 'extra'")[0]
            .as<int>() == 1);
}

TEST_CASE("an invalid schema name is refused before anything is touched") {
  pqxx::connection c{test::fresh_database("migrate_bad_schema")};
  CHECK_THROWS_AS(pg::migrate(c, {.with_app_tables = true, .app_schema = "x\"; DROP TABLE y; --"}),
                  std::invalid_argument);
  CHECK_FALSE(table_exists(c, "public", "celeriac_schema_migrations"));
}

TEST_CASE("concurrent migrators queue on the advisory lock instead of racing") {
  const std::string url = test::fresh_database("migrate_race");
  constexpr int n = 6;
  std::vector<pg::migrate_report> reports(n);
  std::vector<std::string> errors(n);
  std::barrier start(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        pqxx::connection c{url};
        start.arrive_and_wait();
        reports[i] = pg::migrate(c, {.with_app_tables = true, .app_schema = "shared_app"});
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::size_t applied = 0;
  for (int i = 0; i < n; ++i) {
    CHECK_MESSAGE(errors[i].empty(), errors[i]);
    applied += reports[i].applied.size();
  }
  CHECK(applied == pg::engine_migrations().size() + pg::app_migrations().size());
  pqxx::connection c{url};
  pqxx::work tx{c};
  CHECK(tx.exec1("SELECT count(*), count(DISTINCT (component, target_schema, version)) FROM "
                 "celeriac_schema_migrations")[0]
            .as<std::size_t>() == applied);
}

TEST_CASE("a failing migration names itself and leaves earlier ones applied") {
  pqxx::connection c{test::fresh_database("migrate_fail")};
  {
    // A conflicting object makes the jobs migration fail (a view where a table goes).
    pqxx::work tx{c};
    tx.exec("CREATE VIEW celeriac_jobs AS SELECT 1 AS task_id");
    tx.commit();
  }
  try {
    pg::migrate(c);
    FAIL("migrate should have failed");
  } catch (const pg::migration_error& e) {
    CHECK(std::string(e.what()).find("engine migration 0001_jobs") != std::string::npos);
  }
  pqxx::work tx{c};
  CHECK(tx.exec1("SELECT count(*) FROM celeriac_schema_migrations")[0].as<int>() == 0);
}

TEST_CASE("task ids and states compare byte by byte even where the database's default collation is linguistic") {
  pqxx::connection c{fresh_linguistic_database("migrate_bytewise")};
  {
    // The database really is linguistic: en-US puts "a" before "B".
    pqxx::work tx{c};
    CHECK(tx.exec1("SELECT 'a' < 'B'")[0].as<bool>());
  }
  pg::migrate(c);
  for (const auto& [table, column] : bytewise_columns)
    CHECK_MESSAGE(collation_of(c, table, column) == "C", table, ".", column);
  {
    pqxx::work tx{c};
    tx.exec("INSERT INTO celeriac_jobs (task_id, state) VALUES ('a-1', 'SUCCESS'), ('B-2', 'SUCCESS')");
    tx.commit();
  }
  CHECK(ordered_task_ids(c) == std::vector<std::string>{"B-2", "a-1"});
}

TEST_CASE("the bytewise migration keeps the rows and the keys of a database migrated before it") {
  pqxx::connection c{fresh_linguistic_database("migrate_bytewise_upgrade")};
  // Back to how the tables were before 0005, with rows in them.
  migrate_to_before_0005(
      c, {"INSERT INTO celeriac_jobs (task_id, state) VALUES ('a-1', 'SUCCESS'), ('B-2', 'STARTED')",
          "INSERT INTO celeriac_import_errors (task_id, line_number, reason) VALUES ('a-1', 7, 'bad')",
          "INSERT INTO celeriac_import_checkpoints (task_id, byte_offset, line_number, part_count) "
          "VALUES ('a-1', 0, 0, 2)",
          "INSERT INTO celeriac_import_parts (task_id, part, start_offset, start_line, end_offset, byte_offset, "
          "line_number) VALUES ('a-1', 0, 0, 1, 10, 0, 1), ('a-1', 1, 10, 3, 20, 10, 3)"});
  REQUIRE(collation_of(c, "celeriac_jobs", "task_id") == "(default)");
  CHECK(ordered_task_ids(c) == std::vector<std::string>{"a-1", "B-2"});

  auto report = pg::migrate(c);
  REQUIRE(report.applied.size() == 1);
  CHECK(report.applied[0].version == 5);
  for (const auto& [table, column] : bytewise_columns)
    CHECK_MESSAGE(collation_of(c, table, column) == "C", table, ".", column);
  CHECK(ordered_task_ids(c) == std::vector<std::string>{"B-2", "a-1"});
  {
    pqxx::work tx{c};
    CHECK(tx.exec1("SELECT count(*) FROM celeriac_import_errors WHERE task_id = 'a-1'")[0].as<int>() == 1);
    CHECK(tx.exec1("SELECT count(*) FROM celeriac_import_parts WHERE task_id = 'a-1'")[0].as<int>() == 2);
    CHECK(tx.exec1("SELECT state FROM celeriac_jobs WHERE task_id = 'B-2'")[0].as<std::string>() == "STARTED");
    // Every index was rebuilt valid, and the keys still hold.
    CHECK(tx.exec1("SELECT count(*) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
                   "WHERE t.relname LIKE 'celeriac\\_%' AND NOT i.indisvalid")[0]
              .as<int>() == 0);
  }
  pqxx::work dup{c};
  CHECK_THROWS_AS(dup.exec("INSERT INTO celeriac_jobs (task_id, state) VALUES ('a-1', 'RECEIVED')"),
                  pqxx::unique_violation);
}

TEST_CASE("a column an application's view uses keeps its collation, with a warning, and the rest migrate") {
  pqxx::connection c{fresh_linguistic_database("migrate_bytewise_view")};
  // Before 0005, with the application's own view on celeriac_jobs.
  migrate_to_before_0005(c, {"CREATE VIEW app_job_ids AS SELECT task_id FROM celeriac_jobs",
                             "INSERT INTO celeriac_jobs (task_id, state) VALUES ('a-1', 'SUCCESS')"});
  auto report = pg::migrate(c);
  REQUIRE(report.applied.size() == 1);
  REQUIRE(report.warnings.size() == 1);
  const std::string& w = report.warnings[0];
  CHECK(w.starts_with("WARNING:"));
  CHECK(w.find("celeriac_jobs.task_id") != std::string::npos);
  CHECK(w.find("app_job_ids") != std::string::npos);
  CHECK(w.find("ALTER TABLE celeriac_jobs ALTER COLUMN task_id TYPE text COLLATE \"C\"") != std::string::npos);
  CHECK(collation_of(c, "celeriac_jobs", "task_id") == "(default)");
  for (const auto& [table, column] : bytewise_columns) {
    if (std::string_view(table) == "celeriac_jobs" && std::string_view(column) == "task_id") continue;
    CHECK_MESSAGE(collation_of(c, table, column) == "C", table, ".", column);
  }
  pqxx::work tx{c};
  CHECK(tx.exec1("SELECT count(*) FROM app_job_ids")[0].as<int>() == 1);
  // Nothing else warns: a second run applies nothing.
  tx.commit();
  auto again = pg::migrate(c);
  CHECK(again.applied.empty());
  CHECK(again.warnings.empty());
}

}  // TEST_SUITE
