#include "tasks/analytics/dashboard_stats.hpp"

#include <pqxx/result>
#include <pqxx/transaction>

namespace celeriac::tasks::analytics {

const std::string_view dashboard_stats_sql = R"sql(
WITH per_category AS (
  SELECT category,
         count(*) AS total,
         count(*) FILTER (WHERE admin_approved) AS approved,
         count(*) FILTER (WHERE status = 'pending') AS pending,
         count(*) FILTER (WHERE status = 'mapped') AS mapped,
         count(*) FILTER (WHERE status = 'failed') AS failed,
         sum(confidence) AS confidence_sum,
         count(confidence) AS confidence_n
    FROM llm_mappings
   GROUP BY category)
INSERT INTO dashboard_stats AS d (id, total_mappings, approved_mappings, pending_mappings, mapped_mappings,
                                  failed_mappings, avg_confidence, unique_categories, last_updated)
SELECT 1, coalesce(sum(total), 0), coalesce(sum(approved), 0), coalesce(sum(pending), 0), coalesce(sum(mapped), 0),
       coalesce(sum(failed), 0), sum(confidence_sum) / nullif(sum(confidence_n), 0), count(category), now()
  FROM per_category
ON CONFLICT (id) DO UPDATE
   SET total_mappings = EXCLUDED.total_mappings, approved_mappings = EXCLUDED.approved_mappings,
       pending_mappings = EXCLUDED.pending_mappings, mapped_mappings = EXCLUDED.mapped_mappings,
       failed_mappings = EXCLUDED.failed_mappings, avg_confidence = EXCLUDED.avg_confidence,
       unique_categories = EXCLUDED.unique_categories, last_updated = EXCLUDED.last_updated
RETURNING total_mappings, approved_mappings, pending_mappings, mapped_mappings, failed_mappings, avg_confidence,
          unique_categories)sql";

dashboard_figures recompute_dashboard_stats(pqxx::connection& c) {
  pqxx::work tx{c};
  auto r = tx.exec1(std::string(dashboard_stats_sql));
  tx.commit();
  dashboard_figures f;
  f.total = r[0].as<std::int64_t>();
  f.approved = r[1].as<std::int64_t>();
  f.pending = r[2].as<std::int64_t>();
  f.mapped = r[3].as<std::int64_t>();
  f.failed = r[4].as<std::int64_t>();
  if (!r[5].is_null()) f.avg_confidence = r[5].as<double>();
  f.unique_categories = r[6].as<std::int64_t>();
  return f;
}

}  // namespace celeriac::tasks::analytics
