#include "tasks/analytics/partitions.hpp"

#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <pqxx/result>
#include <pqxx/transaction>

namespace celeriac::tasks::analytics {
namespace {

// "celp": the advisory lock class of partition maintenance.
constexpr std::int64_t partitions_lock_key = std::int64_t{0x63656C70} << 32;

struct month {
  std::string name;  // ai_interactions_YYYY_MM
  std::string from;  // timestamptz literal of its first instant (UTC)
  std::string to;
};

}  // namespace

partition_report maintain_partitions(pqxx::connection& c, int months_ahead, int retention_months) {
  pqxx::work tx{c};
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", partitions_lock_key);
  auto parent = tx.exec("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.oid = to_regclass('ai_interactions') AND c.relkind = 'p'");
  if (parent.empty())
    throw std::runtime_error("no partitioned table ai_interactions on the search path: run `celeriac migrate "
                             "--with-app-tables` (or set the connection's search_path to the app schema)");
  const std::string schema = parent[0][0].as<std::string>();
  const std::string qschema = tx.quote_name(schema);
  const std::string qparent = qschema + "." + tx.quote_name("ai_interactions");

  std::set<std::string> existing;
  for (const auto& r : tx.exec_params("SELECT ch.relname FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid "
                                      "WHERE i.inhparent = to_regclass($1)",
                                      schema + ".ai_interactions"))
    existing.insert(r[0].as<std::string>());
  const bool has_default = existing.count("ai_interactions_default") > 0;

  partition_report report;
  auto wanted = tx.exec_params(R"sql(
SELECT 'ai_interactions_' || to_char(m, 'YYYY_MM'),
       (m::timestamp AT TIME ZONE 'UTC')::text, ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC')::text
  FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                       date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => $1),
                       interval '1 month') AS m)sql",
                               months_ahead);
  for (const auto& r : wanted) {
    month m{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()};
    if (existing.count(m.name)) continue;
    const std::string qname = qschema + "." + tx.quote_name(m.name);
    std::int64_t waiting = 0;
    if (has_default)
      waiting = tx.exec_params1("SELECT count(*) FROM " + qschema + ".ai_interactions_default WHERE created_at >= "
                                "$1::timestamptz AND created_at < $2::timestamptz",
                                m.from, m.to)[0]
                    .as<std::int64_t>();
    if (waiting == 0) {
      tx.exec(fmt::format("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})", qname, qparent,
                          tx.quote(m.from), tx.quote(m.to)));
    } else {
      // Rows of this month are in the default partition: attaching a
      // partition over them would fail, so move them first.
      tx.exec(fmt::format("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)", qname, qparent));
      tx.exec_params(fmt::format("WITH moved AS (DELETE FROM {}.ai_interactions_default WHERE created_at >= "
                                 "$1::timestamptz AND created_at < $2::timestamptz RETURNING *) "
                                 "INSERT INTO {} SELECT * FROM moved",
                                 qschema, qname),
                     m.from, m.to);
      tx.exec(fmt::format("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})", qparent, qname,
                          tx.quote(m.from), tx.quote(m.to)));
      report.moved_rows += waiting;
    }
    report.created.push_back(m.name);
  }

  const std::string oldest_kept = tx.exec_params1("SELECT 'ai_interactions_' || to_char(date_trunc('month', now() "
                                                  "AT TIME ZONE 'UTC') - make_interval(months => $1), 'YYYY_MM')",
                                                  retention_months)[0]
                                      .as<std::string>();
  for (const std::string& name : existing) {
    // Monthly names sort by date; anything else (the default partition,
    // an application's own) is never dropped.
    if (name.size() != std::string("ai_interactions_YYYY_MM").size() || name == "ai_interactions_default") continue;
    if (name.compare(0, 16, "ai_interactions_") != 0 || name[20] != '_') continue;
    if (name < oldest_kept) {
      tx.exec("DROP TABLE " + qschema + "." + tx.quote_name(name));
      report.dropped.push_back(name);
    }
  }
  tx.commit();
  return report;
}

}  // namespace celeriac::tasks::analytics
