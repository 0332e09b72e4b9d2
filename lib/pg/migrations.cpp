#include "pg/migrations.hpp"

#include <algorithm>
#include <exception>
#include <set>

#include <fmt/format.h>
#include <pqxx/errorhandler>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "pg/sql_text.hpp"
#include "util/log.hpp"

namespace celeriac::pg {
namespace {

constexpr std::string_view bootstrap_sql = R"sql(
CREATE TABLE IF NOT EXISTS celeriac_schema_migrations (
  component      text NOT NULL,
  target_schema  text NOT NULL,
  version        integer NOT NULL,
  name           text NOT NULL,
  applied_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (component, target_schema, version)
)
)sql";

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t pos = 0;
  for (std::size_t hit; (hit = text.find(from, pos)) != std::string_view::npos; pos = hit + from.size())
    out.append(text.substr(pos, hit - pos)).append(to);
  out.append(text.substr(pos));
  return out;
}

// {{schema}} is the quoted schema name, for plain DDL; {{schema_literal}}
// the same as a SQL string literal, for DO blocks that build DDL with
// format(). A valid identifier holds no quote, so wrapping it in '' is safe.
std::string substitute_schema(std::string_view sql, std::string_view quoted_schema) {
  std::string literal = fmt::format("'{}'", quoted_schema);
  return replace_all(replace_all(sql, "{{schema_literal}}", literal), "{{schema}}", quoted_schema);
}

// Keeps the server's WARNINGs while it lives (NOTICEs, such as "relation
// already exists, skipping" from IF NOT EXISTS, are left out).
class warning_collector final : public pqxx::errorhandler {
public:
  warning_collector(pqxx::connection_base& c, std::vector<std::string>& out) : pqxx::errorhandler(c), out_(out) {}

  bool operator()(const char msg[]) noexcept override {
    try {
      std::string_view text(msg);
      if (!text.starts_with("WARNING:")) return true;
      while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
      out_.emplace_back(text);
    } catch (...) {  // out of memory: the warning is lost, not the migration
    }
    return true;
  }

private:
  std::vector<std::string>& out_;
};

// Releases the advisory lock however migrate() leaves.
class lock_guard {
public:
  explicit lock_guard(pqxx::connection& c) : c_(c) {
    pqxx::nontransaction tx{c_};
    tx.exec_params("SELECT pg_advisory_lock($1)", migration_lock_key);
  }
  ~lock_guard() {
    try {
      pqxx::nontransaction tx{c_};
      tx.exec_params("SELECT pg_advisory_unlock($1)", migration_lock_key);
    } catch (const std::exception& e) {
      // The lock belongs to the session: a broken connection has dropped it.
      log::debug("releasing the migration lock failed ({}); it goes with the session", e.what());
    }
  }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

private:
  pqxx::connection& c_;
};

void apply_set(pqxx::connection& c, std::string_view component, const std::string& schema,
               std::span<const migration> set, std::string_view quoted_schema, migrate_report& report) {
  std::set<int> done;
  {
    pqxx::work tx{c};
    auto rows = tx.exec_params("SELECT version FROM celeriac_schema_migrations WHERE component = $1 AND target_schema = $2",
                               std::string(component), schema);
    for (const auto& row : rows) done.insert(row[0].as<int>());
    tx.commit();
  }
  for (const migration& m : set) {
    if (done.count(m.version)) {
      ++report.already_applied;
      continue;
    }
    std::string label = fmt::format("{} migration {:04}_{} (schema {})", component, m.version, m.name, schema);
    try {
      warning_collector collect{c, report.warnings};
      pqxx::work tx{c};
      tx.exec(quoted_schema.empty() ? std::string(m.sql) : substitute_schema(m.sql, quoted_schema));
      tx.exec_params(
          "INSERT INTO celeriac_schema_migrations (component, target_schema, version, name) VALUES ($1, $2, $3, $4)",
          std::string(component), schema, m.version, std::string(m.name));
      tx.commit();
    } catch (const std::exception& e) {
      std::throw_with_nested(migration_error(fmt::format(
          "{} failed and was rolled back: {}; fix the cause and run `celeriac migrate` again", label, e.what())));
    }
    log::info("applied {}", label);
    report.applied.push_back({std::string(component), schema, m.version, std::string(m.name)});
  }
}

}  // namespace

migrate_report migrate(pqxx::connection& c, const migrate_options& options) {
  std::string quoted_app_schema;
  if (options.with_app_tables) quoted_app_schema = quote_identifier(options.app_schema);

  migrate_report report;
  lock_guard lock{c};
  std::string engine_schema;
  {
    pqxx::work tx{c};
    tx.exec(std::string(bootstrap_sql));
    auto row = tx.exec1("SELECT current_schema()");
    if (row[0].is_null())
      throw migration_error(
          "no current schema to create the celeriac_* tables in: the connection's search_path names no existing "
          "schema; set one (e.g. ?options=-csearch_path%3Dpublic in the URL)");
    engine_schema = row[0].as<std::string>();
    tx.commit();
  }
  apply_set(c, "engine", engine_schema, engine_migrations(), "", report);
  if (options.with_app_tables) {
    {
      pqxx::work tx{c};
      tx.exec("CREATE SCHEMA IF NOT EXISTS " + quoted_app_schema);
      tx.commit();
    }
    apply_set(c, "app", options.app_schema, app_migrations(), quoted_app_schema, report);
  }
  return report;
}

}  // namespace celeriac::pg
