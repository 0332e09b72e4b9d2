#pragma once
// One UTC day's row of daily_mapping_stats, upserted (idempotent):
//   created    rows whose created_at falls in the day
//   mapped     rows answered that day (mapped_at in the day)
//   approved   rows approved by an admin whose last change (updated_at) is in the day
//   failed     rows that failed, last changed in the day
//   avg_confidence  of the rows answered that day
//   llm_calls, tokens_in, tokens_out, cost_usd  from ai_interactions of the day
//                   (HTTP calls; the "cache" rows are not calls)

#include <cstdint>
#include <optional>
#include <string>

#include <pqxx/connection>

namespace celeriac::tasks::analytics {

struct daily_figures {
  std::string day;  // YYYY-MM-DD
  std::int64_t created = 0, mapped = 0, approved = 0, failed = 0, llm_calls = 0, tokens_in = 0, tokens_out = 0;
  std::optional<double> avg_confidence;
  double cost_usd = 0;
};

// `day` must be YYYY-MM-DD (checked by the server's date parser).
daily_figures rollup_day(pqxx::connection& c, const std::string& day);

// Yesterday in UTC, by the server's clock.
std::string yesterday_utc(pqxx::connection& c);

}  // namespace celeriac::tasks::analytics
