#include "tasks/analytics/partitions.hpp"

#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <pqxx/result>
#include <pqxx/transaction>

#include "tasks/analytics/calendar.hpp"
#include "tasks/analytics/partition_plan.hpp"

namespace celeriac::tasks::analytics {
namespace {

// "celp" in the high half: the advisory lock class of partition maintenance.
constexpr std::int64_t partitions_lock_key = std::int64_t{0x63656C70} << 32;

// A table as the catalog names it, quoted for DDL.
struct table_name {
  std::string schema, name;
  std::string quoted(const pqxx::transaction_base& tx) const { return tx.quote_name(schema) + "." + tx.quote_name(name); }
};

struct parent_table {
  std::string oid;
  table_name table;
  std::optional<table_name> default_partition;
};

parent_table find_parent(pqxx::work& tx) {
  auto r = tx.exec_params(R"sql(
SELECT c.oid::text, n.nspname, c.relname, dn.nspname, d.relname
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_partitioned_table p ON p.partrelid = c.oid
  LEFT JOIN pg_class d ON d.oid = p.partdefid
  LEFT JOIN pg_namespace dn ON dn.oid = d.relnamespace
 WHERE c.oid = to_regclass($1))sql",
                          std::string(partitioned_table));
  if (r.empty())
    throw std::runtime_error(fmt::format(
        "no partitioned table {} on the search path ({}): run `celeriac migrate --with-app-tables` for this "
        "database, or point the worker's connection at the schema holding the app tables",
        partitioned_table, tx.exec1("SELECT current_setting('search_path')")[0].as<std::string>()));
  parent_table p{r[0][0].as<std::string>(), {r[0][1].as<std::string>(), r[0][2].as<std::string>()}, std::nullopt};
  if (!r[0][3].is_null()) p.default_partition = table_name{r[0][3].as<std::string>(), r[0][4].as<std::string>()};
  return p;
}

// The range partitions with their bounds, read back from the server's own
// spelling of them (pg_get_expr), which the same session parses again.
std::vector<existing_partition> range_partitions(pqxx::work& tx, const parent_table& parent) {
  std::vector<existing_partition> out;
  auto rows = tx.exec_params(R"sql(
SELECT n.nspname, c.relname,
       extract(epoch FROM ((regexp_match(b.bound, 'FROM \(''([^'']*)''\)'))[1])::timestamptz)::bigint,
       extract(epoch FROM ((regexp_match(b.bound, ' TO \(''([^'']*)''\)'))[1])::timestamptz)::bigint
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
 WHERE i.inhparent = $1::oid AND b.bound <> 'DEFAULT'
 ORDER BY c.relname)sql",
                             parent.oid);
  for (const auto& r : rows) {
    existing_partition p{r[0].as<std::string>(), r[1].as<std::string>(), std::nullopt, std::nullopt};
    if (!r[2].is_null()) p.from_epoch = r[2].as<std::int64_t>();
    if (!r[3].is_null()) p.to_epoch = r[3].as<std::int64_t>();
    out.push_back(std::move(p));
  }
  return out;
}

// "id, created_at, ...": the parent's columns in order, quoted.
std::string column_list(pqxx::work& tx, const parent_table& parent) {
  std::string cols;
  for (const auto& r : tx.exec_params("SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 "
                                      "AND NOT attisdropped ORDER BY attnum",
                                      parent.oid))
    cols += (cols.empty() ? "" : ", ") + tx.quote_name(r[0].as<std::string>());
  return cols;
}

utc_month current_month(pqxx::work& tx) {
  const auto text = tx.exec1("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')")[0].as<std::string>();
  auto m = utc_month::parse(text);
  if (!m) throw std::runtime_error(fmt::format("the server's current month '{}' is not YYYY-MM", text));
  return *m;
}

// Creates month m's partition, moving its rows out of the default partition
// first; returns how many rows moved.
std::int64_t create_month(pqxx::work& tx, const parent_table& parent, const std::string& columns, utc_month m) {
  const std::string parent_q = parent.table.quoted(tx);
  const std::string part_q = table_name{parent.table.schema, monthly_partition_name(m)}.quoted(tx);
  const std::string from = tx.quote(m.start_literal()), to = tx.quote(m.plus(1).start_literal());
  tx.exec(fmt::format("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)", part_q, parent_q));
  std::int64_t moved = 0;
  if (parent.default_partition) {
    auto r = tx.exec(fmt::format("WITH moved AS (DELETE FROM {} WHERE created_at >= {} AND created_at < {} "
                                 "RETURNING {}) INSERT INTO {} ({}) SELECT {} FROM moved",
                                 parent.default_partition->quoted(tx), from, to, columns, part_q, columns, columns));
    moved = static_cast<std::int64_t>(r.affected_rows());
  }
  tx.exec(fmt::format("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})", parent_q, part_q, from, to));
  return moved;
}

}  // namespace

partition_report maintain_partitions(pqxx::connection& c, const partition_options& o) {
  pqxx::work tx{c};
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", partitions_lock_key);
  // After the advisory lock: a second run may queue behind the first as
  // long as it takes; only the table locks are bounded.
  tx.exec(fmt::format("SET LOCAL lock_timeout = {}", tx.quote(fmt::format("{}ms", o.lock_timeout.count()))));

  const parent_table parent = find_parent(tx);
  const auto plan = plan_partitions(current_month(tx), o.months_ahead, o.retention_months, range_partitions(tx, parent));
  partition_report report;
  const std::string columns = plan.create.empty() ? "" : column_list(tx, parent);
  for (const utc_month m : plan.create) {
    report.moved_rows += create_month(tx, parent, columns, m);
    report.created.push_back(monthly_partition_name(m));
  }
  for (const existing_partition& p : plan.drop) {
    tx.exec("DROP TABLE " + table_name{p.schema, p.name}.quoted(tx));
    report.dropped.push_back(p.name);
  }
  tx.commit();
  return report;
}

}  // namespace celeriac::tasks::analytics
