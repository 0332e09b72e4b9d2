#include "tasks/analytics/daily_rollup.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

namespace celeriac::tasks::analytics {
namespace {

// $1 the day, $2 its first instant, $3 the next day's first instant.
constexpr const char* rollup_sql = R"sql(
WITH rows_of_day AS (
  SELECT count(*) FILTER (WHERE created_at >= $2::timestamptz AND created_at < $3::timestamptz) AS created,
         count(*) FILTER (WHERE mapped_at >= $2::timestamptz AND mapped_at < $3::timestamptz) AS mapped,
         count(*) FILTER (WHERE admin_approved
                            AND coalesce(updated_at, mapped_at, created_at) >= $2::timestamptz
                            AND coalesce(updated_at, mapped_at, created_at) < $3::timestamptz) AS approved,
         count(*) FILTER (WHERE status = 'failed'
                            AND coalesce(updated_at, mapped_at, created_at) >= $2::timestamptz
                            AND coalesce(updated_at, mapped_at, created_at) < $3::timestamptz) AS failed,
         avg(confidence) FILTER (WHERE mapped_at >= $2::timestamptz AND mapped_at < $3::timestamptz) AS avg_confidence
    FROM llm_mappings
   -- Every row counted above has one of these three in the day.
   WHERE (created_at >= $2::timestamptz AND created_at < $3::timestamptz)
      OR (mapped_at >= $2::timestamptz AND mapped_at < $3::timestamptz)
      OR (updated_at >= $2::timestamptz AND updated_at < $3::timestamptz)),
calls_of_day AS (
  SELECT count(*) FILTER (WHERE provider <> 'cache') AS llm_calls, coalesce(sum(tokens_in), 0) AS tokens_in,
         coalesce(sum(tokens_out), 0) AS tokens_out, coalesce(sum(cost_usd), 0) AS cost_usd
    FROM ai_interactions
   WHERE created_at >= $2::timestamptz AND created_at < $3::timestamptz)
INSERT INTO daily_mapping_stats AS d (day, created, mapped, approved, failed, avg_confidence, llm_calls, tokens_in,
                                     tokens_out, cost_usd, updated_at)
SELECT $1::date, r.created, r.mapped, r.approved, r.failed, r.avg_confidence, c.llm_calls, c.tokens_in, c.tokens_out,
       c.cost_usd, now()
  FROM rows_of_day r, calls_of_day c
ON CONFLICT (day) DO UPDATE
   SET created = EXCLUDED.created, mapped = EXCLUDED.mapped, approved = EXCLUDED.approved, failed = EXCLUDED.failed,
       avg_confidence = EXCLUDED.avg_confidence, llm_calls = EXCLUDED.llm_calls, tokens_in = EXCLUDED.tokens_in,
       tokens_out = EXCLUDED.tokens_out, cost_usd = EXCLUDED.cost_usd, updated_at = EXCLUDED.updated_at
RETURNING to_char(day, 'YYYY-MM-DD'), created, mapped, approved, failed, avg_confidence, llm_calls, tokens_in,
          tokens_out, cost_usd::float8)sql";

}  // namespace

daily_figures rollup_day(pqxx::connection& c, utc_day day) {
  pqxx::work tx{c};
  auto r = tx.exec_params1(rollup_sql, day.iso(), day.start_literal(), day.next().start_literal());
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

utc_day yesterday_utc(pqxx::connection& c) {
  pqxx::nontransaction tx{c};
  const auto text =
      tx.exec1("SELECT to_char((now() AT TIME ZONE 'UTC')::date - 1, 'YYYY-MM-DD')")[0].as<std::string>();
  auto day = utc_day::parse(text);
  if (!day) throw std::runtime_error(fmt::format("the server's yesterday '{}' is not YYYY-MM-DD", text));
  return *day;
}

}  // namespace celeriac::tasks::analytics
