#include "tasks/analytics/daily_rollup.hpp"

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

namespace celeriac::tasks::analytics {

daily_figures rollup_day(pqxx::connection& c, const std::string& day) {
  pqxx::work tx{c};
  auto r = tx.exec_params1(R"sql(
WITH bounds AS (
  SELECT ($1::date::timestamp AT TIME ZONE 'UTC') AS lo, (($1::date + 1)::timestamp AT TIME ZONE 'UTC') AS hi),
rows_of_day AS (
  SELECT count(*) FILTER (WHERE m.created_at >= b.lo AND m.created_at < b.hi) AS created,
         count(*) FILTER (WHERE m.mapped_at >= b.lo AND m.mapped_at < b.hi) AS mapped,
         count(*) FILTER (WHERE m.admin_approved AND m.updated_at >= b.lo AND m.updated_at < b.hi) AS approved,
         count(*) FILTER (WHERE m.status = 'failed' AND coalesce(m.updated_at, m.created_at) >= b.lo
                                AND coalesce(m.updated_at, m.created_at) < b.hi) AS failed,
         avg(m.confidence) FILTER (WHERE m.mapped_at >= b.lo AND m.mapped_at < b.hi) AS avg_confidence
    FROM llm_mappings m, bounds b
   WHERE (m.created_at >= b.lo AND m.created_at < b.hi) OR (m.mapped_at >= b.lo AND m.mapped_at < b.hi)
      OR (m.updated_at >= b.lo AND m.updated_at < b.hi)),
calls_of_day AS (
  SELECT count(*) FILTER (WHERE i.provider <> 'cache') AS llm_calls, coalesce(sum(i.tokens_in), 0) AS tokens_in,
         coalesce(sum(i.tokens_out), 0) AS tokens_out, coalesce(sum(i.cost_usd), 0) AS cost_usd
    FROM ai_interactions i, bounds b
   WHERE i.created_at >= b.lo AND i.created_at < b.hi)
INSERT INTO daily_mapping_stats AS d (day, created, mapped, approved, failed, avg_confidence, llm_calls, tokens_in,
                                     tokens_out, cost_usd, updated_at)
SELECT $1::date, r.created, r.mapped, r.approved, r.failed, r.avg_confidence, c.llm_calls, c.tokens_in, c.tokens_out,
       c.cost_usd, now()
  FROM rows_of_day r, calls_of_day c
ON CONFLICT (day) DO UPDATE
   SET created = EXCLUDED.created, mapped = EXCLUDED.mapped, approved = EXCLUDED.approved, failed = EXCLUDED.failed,
       avg_confidence = EXCLUDED.avg_confidence, llm_calls = EXCLUDED.llm_calls, tokens_in = EXCLUDED.tokens_in,
       tokens_out = EXCLUDED.tokens_out, cost_usd = EXCLUDED.cost_usd, updated_at = now()
RETURNING day::text, created, mapped, approved, failed, avg_confidence, llm_calls, tokens_in, tokens_out,
          cost_usd::float8)sql",
                           day);
  tx.commit();
  daily_figures f;
  f.day = r[0].as<std::string>();
  f.created = r[1].as<std::int64_t>();
  f.mapped = r[2].as<std::int64_t>();
  f.approved = r[3].as<std::int64_t>();
  f.failed = r[4].as<std::int64_t>();
  if (!r[5].is_null()) f.avg_confidence = r[5].as<double>();
  f.llm_calls = r[6].as<std::int64_t>();
  f.tokens_in = r[7].as<std::int64_t>();
  f.tokens_out = r[8].as<std::int64_t>();
  f.cost_usd = r[9].as<double>();
  return f;
}

std::string yesterday_utc(pqxx::connection& c) {
  pqxx::nontransaction tx{c};
  return tx.exec1("SELECT ((now() AT TIME ZONE 'UTC')::date - 1)::text")[0].as<std::string>();
}

}  // namespace celeriac::tasks::analytics
