#pragma once
// The dashboard's one row (dashboard_stats, id = 1), recomputed in one
// pass over llm_mappings: rows are grouped by category first (a hash
// aggregate over a handful of groups), and every figure is summed from the
// groups — so the distinct-category count costs no sort of the table.

#include <cstdint>
#include <optional>
#include <string_view>

#include <pqxx/connection>

namespace celeriac::tasks::analytics {

// The statement the task runs (also timed by scripts/bench-analytics).
extern const std::string_view dashboard_stats_sql;

struct dashboard_figures {
  std::int64_t total = 0, approved = 0, pending = 0, mapped = 0, failed = 0, unique_categories = 0;
  std::optional<double> avg_confidence;
};

dashboard_figures recompute_dashboard_stats(pqxx::connection& c);

}  // namespace celeriac::tasks::analytics
