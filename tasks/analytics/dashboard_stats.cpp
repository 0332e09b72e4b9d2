#include "tasks/analytics/dashboard_stats.hpp"

#include <string_view>

#include <pqxx/result>
#include <pqxx/transaction>

namespace celeriac::tasks::analytics {
namespace {

// Each yields one row: total, approved, pending, mapped, failed,
// avg_confidence, unique_categories.
constexpr std::string_view figures_with_index_walk = R"sql(
WITH RECURSIVE categories AS (
  SELECT min(category) AS category FROM llm_mappings
  UNION ALL
  SELECT (SELECT min(m.category) FROM llm_mappings m WHERE m.category > c.category)
    FROM categories c
   WHERE c.category IS NOT NULL)
SELECT count(*), count(*) FILTER (WHERE admin_approved), count(*) FILTER (WHERE status = 'pending'),
       count(*) FILTER (WHERE status = 'mapped'), count(*) FILTER (WHERE status = 'failed'), avg(confidence),
       (SELECT count(category) FROM categories)
  FROM llm_mappings)sql";

constexpr std::string_view figures_with_grouping = R"sql(
WITH per_category AS (
  SELECT category, count(*) AS total, count(*) FILTER (WHERE admin_approved) AS approved,
         count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'mapped') AS mapped,
         count(*) FILTER (WHERE status = 'failed') AS failed, sum(confidence) AS confidence_sum,
         count(confidence) AS confidence_n
    FROM llm_mappings
   GROUP BY category)
SELECT coalesce(sum(total), 0), coalesce(sum(approved), 0), coalesce(sum(pending), 0), coalesce(sum(mapped), 0),
       coalesce(sum(failed), 0), sum(confidence_sum) / nullif(sum(confidence_n), 0), count(category)
  FROM per_category)sql";

constexpr std::string_view upsert_head = R"sql(
INSERT INTO dashboard_stats AS d (id, total_mappings, approved_mappings, pending_mappings, mapped_mappings,
                                  failed_mappings, avg_confidence, unique_categories, last_updated)
SELECT 1, f.*, now() FROM ()sql";

constexpr std::string_view upsert_tail = R"sql() AS f
ON CONFLICT (id) DO UPDATE
   SET total_mappings = EXCLUDED.total_mappings, approved_mappings = EXCLUDED.approved_mappings,
       pending_mappings = EXCLUDED.pending_mappings, mapped_mappings = EXCLUDED.mapped_mappings,
       failed_mappings = EXCLUDED.failed_mappings, avg_confidence = EXCLUDED.avg_confidence,
       unique_categories = EXCLUDED.unique_categories, last_updated = EXCLUDED.last_updated
RETURNING total_mappings, approved_mappings, pending_mappings, mapped_mappings, failed_mappings, avg_confidence,
          unique_categories)sql";

// A valid, non-partial btree index whose first column is category, with
// the column's own collation (the order min() and > compare in).
constexpr const char* category_index_sql = R"sql(
SELECT EXISTS (
  SELECT 1
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
   WHERE i.indrelid = to_regclass('llm_mappings') AND a.attname = 'category' AND am.amname = 'btree'
     AND i.indisvalid AND i.indpred IS NULL AND i.indcollation[0] = a.attcollation))sql";

distinct_method choose_method(pqxx::work& tx) {
  return tx.exec1(category_index_sql)[0].as<bool>() ? distinct_method::index_walk : distinct_method::grouping;
}

}  // namespace

std::string dashboard_stats_sql(distinct_method method) {
  std::string sql(upsert_head);
  sql += method == distinct_method::index_walk ? figures_with_index_walk : figures_with_grouping;
  sql += upsert_tail;
  return sql;
}

dashboard_figures recompute_dashboard_stats(pqxx::connection& c) {
  pqxx::work tx{c};
  const distinct_method method = choose_method(tx);
  auto r = tx.exec1(dashboard_stats_sql(method));
  tx.commit();
  dashboard_figures f;
  f.total = r[0].as<std::int64_t>();
  f.approved = r[1].as<std::int64_t>();
  f.pending = r[2].as<std::int64_t>();
  f.mapped = r[3].as<std::int64_t>();
  f.failed = r[4].as<std::int64_t>();
  if (!r[5].is_null()) f.avg_confidence = r[5].as<double>();
  f.unique_categories = r[6].as<std::int64_t>();
  f.method = method;
  return f;
}

}  // namespace celeriac::tasks::analytics
