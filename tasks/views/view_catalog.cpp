#include "tasks/views/view_catalog.hpp"

#include <map>

#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>

#include "tasks/views/dependency_order.hpp"

namespace celeriac::tasks::views {
namespace {

constexpr const char* info_columns = R"sql(
SELECT c.oid::bigint, n.nspname, c.relname, c.relispopulated,
       EXISTS (SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
                  AND i.indexprs IS NULL)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
)sql";

// What to_regclass raises for text that cannot name a relation here:
// invalid_name ("x; DROP TABLE y", an unclosed quote, ""), syntax_error
// ("a.b.c.d"), feature_not_supported (a cross-database "db.schema.x").
bool not_a_name(const pqxx::sql_error& e) {
  return e.sqlstate() == "42602" || e.sqlstate() == "42601" || e.sqlstate() == "0A000";
}

view_info read_info(const pqxx::row& r) {
  return view_info{static_cast<std::uint32_t>(r[0].as<std::int64_t>()), r[1].as<std::string>(),
                   r[2].as<std::string>(), r[3].as<bool>(), r[4].as<bool>()};
}

}  // namespace

std::string view_info::quoted(pqxx::connection& c) const { return c.quote_name(schema) + "." + c.quote_name(name); }

std::optional<view_info> find_view(pqxx::connection& c, const std::string& name) {
  pqxx::nontransaction tx{c};
  // to_regclass parses the name as SQL would (quoting, case folding, the
  // search path) and never raises for a missing or malformed one; the
  // relkind check keeps tables and plain views out.
  pqxx::result rows;
  try {
    rows = tx.exec_params(std::string(info_columns) + " WHERE c.oid = to_regclass($1) AND c.relkind = 'm'", name);
  } catch (const pqxx::sql_error& e) {
    if (not_a_name(e)) return std::nullopt;
    throw;
  }
  if (rows.empty()) return std::nullopt;
  return read_info(rows[0]);
}

std::optional<view_info> find_view(pqxx::connection& c, std::uint32_t oid) {
  pqxx::nontransaction tx{c};
  const auto rows = tx.exec_params(std::string(info_columns) + " WHERE c.oid = $1::bigint::oid AND c.relkind = 'm'",
                                   static_cast<std::int64_t>(oid));
  if (rows.empty()) return std::nullopt;
  return read_info(rows[0]);
}

std::vector<view_info> celeriac_views_in_order(pqxx::connection& c) {
  pqxx::nontransaction tx{c};
  std::map<relation_oid, view_info> views;
  std::vector<relation_oid> by_name;
  for (const auto& r : tx.exec(std::string(info_columns) +
                               " WHERE c.relkind = 'm' AND obj_description(c.oid, 'pg_class') LIKE 'celeriac:%' "
                               "ORDER BY n.nspname, c.relname")) {
    view_info v = read_info(r);
    by_name.push_back(v.oid);
    views.emplace(v.oid, std::move(v));
  }
  // A view's (or materialized view's) rewrite rule depends on the
  // relations its query reads, and on the view itself (left out).
  read_graph reads;
  for (const auto& r : tx.exec(R"sql(
SELECT DISTINCT rw.ev_class::bigint, d.refobjid::bigint
  FROM pg_rewrite rw JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid <> rw.ev_class)sql"))
    reads[static_cast<relation_oid>(r[0].as<std::int64_t>())].insert(static_cast<relation_oid>(r[1].as<std::int64_t>()));

  std::vector<view_info> out;
  for (relation_oid oid : dependency_order(by_name, reads)) out.push_back(views.at(oid));
  return out;
}

}  // namespace celeriac::tasks::views
