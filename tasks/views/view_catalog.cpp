#include "tasks/views/view_catalog.hpp"

#include <functional>
#include <map>
#include <set>

#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>

namespace celeriac::tasks::views {
namespace {

constexpr const char* info_columns = R"sql(
SELECT c.oid::bigint, n.nspname, c.relname, c.relispopulated,
       EXISTS (SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
                  AND i.indexprs IS NULL)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
)sql";

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
    if (e.sqlstate() == "42602") return std::nullopt;  // invalid_name: not even a name
    throw;
  }
  if (rows.empty()) return std::nullopt;
  return read_info(rows[0]);
}

std::vector<view_info> celeriac_views_in_order(pqxx::connection& c) {
  pqxx::nontransaction tx{c};
  std::map<std::uint32_t, view_info> views;
  for (const auto& r : tx.exec(std::string(info_columns) +
                               " WHERE c.relkind = 'm' AND obj_description(c.oid, 'pg_class') LIKE 'celeriac:%' "
                               "ORDER BY n.nspname, c.relname"))
    views.emplace(static_cast<std::uint32_t>(r[0].as<std::int64_t>()), read_info(r));
  // A view's rewrite rule depends on the relations it reads.
  std::map<std::uint32_t, std::set<std::uint32_t>> reads;
  for (const auto& r : tx.exec(R"sql(
SELECT DISTINCT rw.ev_class::bigint, d.refobjid::bigint
  FROM pg_rewrite rw JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid <> rw.ev_class)sql"))
    reads[static_cast<std::uint32_t>(r[0].as<std::int64_t>())].insert(static_cast<std::uint32_t>(r[1].as<std::int64_t>()));

  std::vector<view_info> out;
  std::set<std::uint32_t> done, visiting;
  std::function<void(std::uint32_t)> visit = [&](std::uint32_t oid) {
    if (done.count(oid) || visiting.count(oid)) return;  // a cycle cannot happen; never loop on one
    visiting.insert(oid);
    for (std::uint32_t dep : reads[oid])
      if (views.count(dep)) visit(dep);
    visiting.erase(oid);
    done.insert(oid);
    out.push_back(views.at(oid));
  };
  for (const auto& [oid, v] : views) visit(oid);
  return out;
}

}  // namespace celeriac::tasks::views
