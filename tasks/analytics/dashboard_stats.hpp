#pragma once
// The dashboard's one row (dashboard_stats, id = 1), recomputed by one
// statement that reads llm_mappings in one pass and upserts the row.
//
// count(DISTINCT category) is what makes the obvious statement slow (it
// sorts every row's category, serially: 3.2 s on 10M rows against 0.94 s
// for the pass without it, docs/benchmarks.md "Analytics"). So:
//   index_walk  when a plain btree index leads with category (the app
//               migration's llm_mappings_category_idx): the distinct
//               categories are walked in the index, one probe per category
//               (a loose index scan, well under a millisecond for the usual
//               handful), beside a plain parallel aggregate of the rest;
//   grouping    otherwise: the rows are grouped by category (a hash
//               aggregate of a handful of groups per parallel worker) and
//               every figure, the distinct count included, is summed from
//               the groups. Never a walk without an index, which would scan
//               the table once per category.

#include <cstdint>
#include <optional>
#include <string>

#include <pqxx/connection>

namespace celeriac::tasks::analytics {

enum class distinct_method { index_walk, grouping };

// The statement the task runs with `method`.
std::string dashboard_stats_sql(distinct_method method);

struct dashboard_figures {
  std::int64_t total = 0, approved = 0, pending = 0, mapped = 0, failed = 0, unique_categories = 0;
  std::optional<double> avg_confidence;
  distinct_method method = distinct_method::grouping;  // how unique_categories was counted
};

dashboard_figures recompute_dashboard_stats(pqxx::connection& c);

}  // namespace celeriac::tasks::analytics
