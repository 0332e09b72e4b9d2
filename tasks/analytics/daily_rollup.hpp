#pragma once
// One UTC day's row of daily_mapping_stats, recomputed and upserted in one
// statement (idempotent: a catch-up or repeated run writes the same row).
//
// A row's "last change" is coalesce(updated_at, mapped_at, created_at): the
// LLM tasks set updated_at on every write, an application that approves or
// rejects a row is expected to as well, and a row nobody touched since it
// arrived changed last when it was created.
//
//   created         rows whose created_at falls in the day
//   mapped          rows answered that day (mapped_at in the day)
//   approved        admin_approved rows whose last change falls in the day
//   failed          status 'failed' rows whose last change falls in the day
//   avg_confidence  of the rows answered that day (NULL when none)
//   llm_calls       ai_interactions rows of the day that are requests to a
//                   provider (failed attempts included; provider 'cache'
//                   rows record cache answers, not calls)
//   tokens_in, tokens_out, cost_usd   summed over ai_interactions of the day
//
// The day's rows are found with plain ranges (created_at >= start AND
// created_at < next day's start) on created_at, mapped_at and updated_at,
// so indexes on those columns serve it where the application has them.

#include <cstdint>
#include <optional>
#include <string>

#include <pqxx/connection>

#include "tasks/analytics/calendar.hpp"

namespace celeriac::tasks::analytics {

struct daily_figures {
  std::string day;  // YYYY-MM-DD
  std::int64_t created = 0, mapped = 0, approved = 0, failed = 0, llm_calls = 0, tokens_in = 0, tokens_out = 0;
  std::optional<double> avg_confidence;
  double cost_usd = 0;
};

daily_figures rollup_day(pqxx::connection& c, utc_day day);

// Yesterday in UTC by the database server's clock (the clock that stamps
// the rows' created_at).
utc_day yesterday_utc(pqxx::connection& c);

}  // namespace celeriac::tasks::analytics
